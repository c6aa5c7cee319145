"""ORM row -> plain record conversion (done inside the session, so nothing is lazy-loaded later)."""

from __future__ import annotations

import copy

from .image_store import ImageStore
from .models import ChatMessage, Inspection, Product, ReferenceImage
from .records import ChatMessageInfo, InspectionRecord, ProductInfo, ReferenceInfo


def product_info(row: Product, reference_count: int = 0) -> ProductInfo:
    return ProductInfo(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        settings=copy.deepcopy(row.settings or {}),
        calibration=copy.deepcopy(row.calibration) if row.calibration is not None else None,
        threshold_override=row.threshold_override,
        threshold_override_by=row.threshold_override_by,
        threshold_override_at=row.threshold_override_at,
        reference_count=int(reference_count),
    )


def reference_info(row: ReferenceImage, store: ImageStore) -> ReferenceInfo:
    return ReferenceInfo(
        id=row.id,
        product_id=row.product_id,
        image_path=row.image_path,
        image_file=store.root / row.image_path,
        image_sha256=row.image_sha256,
        width=row.width,
        height=row.height,
        added_at=row.added_at,
        source=row.source,
        original_name=row.original_name,
        active=bool(row.active),
    )


def inspection_record(row: Inspection, product_name: str, store: ImageStore) -> InspectionRecord:
    return InspectionRecord(
        id=row.id,
        time=row.time,
        product_id=row.product_id,
        product_name=product_name,
        station=row.station,
        operator=row.operator,
        source=row.source,
        source_name=row.source_name,
        verdict=row.verdict,
        probability=float(row.probability),
        score=float(row.score),
        threshold=float(row.threshold),
        threshold_overridden=bool(row.threshold_overridden),
        calibration_id=row.calibration_id,
        encoder_id=row.encoder_id,
        model_ids=copy.deepcopy(row.model_ids or {}),
        mode=row.mode or "cold",
        pool_size=int(row.pool_size or 0),
        adapted_parts=int(row.adapted_parts or 0),
        width=row.width,
        height=row.height,
        image_path=row.image_path,
        image_file=store.root / row.image_path,
        image_sha256=row.image_sha256,
        heatmap_path=row.heatmap_path,
        heatmap_file=(store.root / row.heatmap_path) if row.heatmap_path else None,
        heatmap_sha256=row.heatmap_sha256,
        regions=tuple(copy.deepcopy(list(row.regions or []))),
        timings=copy.deepcopy(row.timings or {}),
        review_status=row.review_status,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
        review_note=row.review_note,
        part_id=row.part_id,
    )


def chat_message_info(row: ChatMessage) -> ChatMessageInfo:
    return ChatMessageInfo(
        id=row.id,
        inspection_id=row.inspection_id,
        product_id=row.product_id,
        role=row.role,
        text=row.text,
        time=row.time,
    )
