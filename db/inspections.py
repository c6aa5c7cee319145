"""Recording inspections and reviewing them.

``record`` stores the frame and heatmap files FIRST (fsync'd, content-addressed), then writes the row in one
transaction. A crash between the two leaves only an unreferenced file (harmless); never a row pointing nowhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .convert import inspection_record
from .errors import ValidationError
from .image_store import ImageStore, StoredFile
from .lookup import inspection_row, product_row
from .models import (
    REVIEW_CONFIRMED_DEFECT,
    REVIEW_FALSE_ALARM,
    REVIEW_NONE,
    VERDICTS,
    Inspection,
    Product,
    ReferenceImage,
)
from .outbox import clean_part_id, enqueue_result
from .records import InspectionRecord
from .references import ImageInput, store_image
from .result_fields import ResultFields, ResultInput
from .session import reading, transaction
from .types import ensure_utc, utc_now


def _finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"The inspection's {name} is not a number ({value!r}); it was not recorded.") from None
    if not math.isfinite(number):
        raise ValidationError(f"The inspection's {name} is {number}; it was not recorded. Check the model's output.")
    return number


def _json_safe(value: Any) -> Any:
    """Plain JSON values only (numpy scalars -> Python, NaN/inf -> None), so PostgreSQL's JSON accepts them."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def _region_dict(region: Any) -> dict[str, Any]:
    if isinstance(region, Mapping):
        data = dict(region)
    elif hasattr(region, "to_dict"):
        data = region.to_dict()
    else:
        raise ValidationError(f"An inspection region has an unknown form ({type(region).__name__}).")
    safe: dict[str, Any] = _json_safe(data)
    return safe


class InspectionRepository:
    def __init__(self, maker: sessionmaker[Session], store: ImageStore) -> None:
        self._maker = maker
        self._store = store

    def record(
        self,
        *,
        product_id: int,
        result: ResultInput,
        image: ImageInput,
        heatmap: ImageInput | None = None,
        time: datetime | None = None,
        station: str = "",
        operator: str = "",
        source: str = "camera",
        source_name: str | None = None,
        model_ids: Mapping[str, Any] | None = None,
        part_id: str | None = None,
        outbox_topic: str | None = None,
    ) -> InspectionRecord:
        """Store the frame (and heatmap) durably, then the row. ``result`` is a core ``InspectionResult``, a
        ``db.result_fields.ResultFields``, or a mapping with exactly its field names. Raises StorageError /
        DatabaseError (ValidationError for a result that is not valid); on failure no row exists.

        ``part_id`` is the PLC's id of the part. With ``outbox_topic`` the result's MQTT message (db/outbox.py) is
        written to the outbox in the same transaction as the row: both exist or neither."""
        fields = ResultFields.of(result)
        verdict = str(fields.verdict).upper()
        if verdict not in VERDICTS:
            raise ValidationError(
                f"Unknown verdict {verdict!r} (expected PASS or FAIL); the inspection was not recorded."
            )
        probability = _finite(fields.probability, "probability")
        score = _finite(fields.score, "score")
        threshold = _finite(fields.threshold, "threshold")
        regions = [_region_dict(r) for r in fields.regions]
        timings = _json_safe(dict(fields.timings_ms))
        overridden = bool(fields.overridden)
        when = ensure_utc(time or utc_now(), "time")
        part_id = clean_part_id(part_id)
        mode = str(fields.mode or "cold")
        if mode not in ("cold", "line"):
            raise ValidationError(f"Unknown inspection mode {mode!r} (expected cold or line); not recorded.")
        pool_size = int(fields.pool_size or 0)
        adapted_parts = int(fields.adapted_parts or 0)
        if adapted_parts < 0 or pool_size < 0:
            raise ValidationError("A negative pool size or adapted-parts count; not recorded.")

        frame_file, original = store_image(self._store, image)  # durable files first ...
        heat_file: StoredFile | None = store_image(self._store, heatmap)[0] if heatmap is not None else None
        width, height = frame_file.width, frame_file.height
        size = fields.image_size
        if (not width or not height) and size and size[0] and size[1]:
            width, height = int(size[0]), int(size[1])

        with transaction(self._maker, "record the inspection") as session:  # ... then the row, all or nothing
            product = product_row(session, product_id)
            row = Inspection(
                time=when,
                product_id=product.id,
                station=station or "",
                operator=operator or "",
                source=source or "",
                source_name=source_name if source_name is not None else original,
                verdict=verdict,
                probability=probability,
                score=score,
                threshold=threshold,
                threshold_overridden=overridden,
                calibration_id=str(fields.calibration_id or ""),
                encoder_id=str(fields.encoder_id or ""),
                model_ids=_json_safe(dict(model_ids or {})),
                mode=mode,
                pool_size=pool_size,
                adapted_parts=adapted_parts,
                width=int(width),
                height=int(height),
                image_path=frame_file.relpath,
                image_sha256=frame_file.sha256,
                heatmap_path=heat_file.relpath if heat_file else None,
                heatmap_sha256=heat_file.sha256 if heat_file else None,
                regions=regions,
                timings=timings,
                review_status=REVIEW_NONE,
                part_id=part_id,
            )
            session.add(row)
            session.flush()
            if outbox_topic:
                enqueue_result(session, row, product.name, outbox_topic)
            return inspection_record(row, product.name, self._store)

    def get(self, inspection_id: int) -> InspectionRecord:
        with reading(self._maker, "read the inspection") as session:
            row = inspection_row(session, inspection_id)
            name = session.scalar(select(Product.name).where(Product.id == row.product_id)) or ""
            return inspection_record(row, name, self._store)

    # ---------------------------------------------------------------- review
    def _review(
        self,
        inspection_id: int,
        status: str,
        *,
        by: str,
        note: str | None,
        now: datetime | None,
        add_as_reference: bool = False,
    ) -> InspectionRecord:
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "save the review") as session:
            row = inspection_row(session, inspection_id)
            if status == REVIEW_FALSE_ALARM and row.verdict != "FAIL":
                raise ValidationError(
                    f"Inspection #{row.id} passed, so it cannot be a false alarm. Use 'confirm defect' if the part was bad."
                )
            row.review_status = status
            if status == REVIEW_NONE:
                row.reviewed_by = row.reviewed_at = row.review_note = None
            else:
                row.reviewed_by = (by or "").strip() or None
                row.reviewed_at = when
                row.review_note = (note or "").strip() or None
            if add_as_reference:
                existing = session.scalars(
                    select(ReferenceImage).where(
                        ReferenceImage.product_id == row.product_id, ReferenceImage.image_sha256 == row.image_sha256
                    )
                ).one_or_none()
                if existing is None:
                    session.add(
                        ReferenceImage(
                            product_id=row.product_id,
                            image_path=row.image_path,
                            image_sha256=row.image_sha256,
                            width=row.width,
                            height=row.height,
                            added_at=when,
                            source="false_alarm",
                            original_name=f"inspection #{row.id}",
                            active=True,
                        )
                    )
                else:
                    existing.active = True
            session.flush()
            name = session.scalar(select(Product.name).where(Product.id == row.product_id)) or ""
            return inspection_record(row, name, self._store)

    def confirm_defect(
        self, inspection_id: int, *, by: str, note: str | None = None, now: datetime | None = None
    ) -> InspectionRecord:
        """The part was really defective (on a PASS verdict this records a missed defect)."""
        return self._review(inspection_id, REVIEW_CONFIRMED_DEFECT, by=by, note=note, now=now)

    def mark_false_alarm(
        self,
        inspection_id: int,
        *,
        by: str,
        note: str | None = None,
        add_as_reference: bool = False,
        now: datetime | None = None,
    ) -> InspectionRecord:
        """A FAIL on a good part. With ``add_as_reference`` its frame joins the product's normal references in
        the same transaction (rebuild the product model afterwards)."""
        return self._review(
            inspection_id, REVIEW_FALSE_ALARM, by=by, note=note, now=now, add_as_reference=add_as_reference
        )

    def clear_review(self, inspection_id: int) -> InspectionRecord:
        """Undo a review (back to 'not reviewed'). A reference added by it stays; remove it separately."""
        return self._review(inspection_id, REVIEW_NONE, by="", note=None, now=None)


__all__ = ["InspectionRepository"]
