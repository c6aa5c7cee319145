"""Products: create, list, rename, delete; their settings, calibration and threshold override."""

from __future__ import annotations

import copy
import math
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from .convert import product_info
from .errors import DuplicateError, ProductInUseError, ValidationError
from .lookup import active_reference_count, product_row
from .models import NAME_LEN, ChatMessage, Inspection, Product, ReferenceImage
from .records import ProductInfo
from .session import reading, transaction
from .types import ensure_utc, utc_now


def clean_name(name: str) -> str:
    cleaned = " ".join(str(name or "").split())
    if not cleaned:
        raise ValidationError("A product needs a name. Type one (e.g. the part number) and try again.")
    if len(cleaned) > NAME_LEN:
        raise ValidationError(f"The product name is too long ({len(cleaned)} characters; at most {NAME_LEN}).")
    return cleaned


class ProductRepository:
    def __init__(self, maker: sessionmaker[Session]) -> None:
        self._maker = maker

    def _info(self, session: Session, row: Product) -> ProductInfo:
        return product_info(row, active_reference_count(session, row.id))

    def _ensure_free(self, session: Session, name: str, except_id: int | None = None) -> None:
        query = select(Product.id).where(func.lower(Product.name) == name.lower())
        if except_id is not None:
            query = query.where(Product.id != except_id)
        if session.scalars(query).first() is not None:
            raise DuplicateError(f"A product named {name!r} already exists. Choose another name.")

    def create(self, name: str, *, settings: dict[str, Any] | None = None, now: datetime | None = None) -> ProductInfo:
        name = clean_name(name)
        with transaction(self._maker, f"create the product {name!r}") as session:
            self._ensure_free(session, name)
            row = Product(
                name=name, created_at=ensure_utc(now or utc_now(), "now"), settings=copy.deepcopy(settings or {})
            )
            session.add(row)
            session.flush()
            return self._info(session, row)

    def get(self, product: int | str) -> ProductInfo:
        with reading(self._maker, "read the product") as session:
            return self._info(session, product_row(session, product))

    def list(self) -> list[ProductInfo]:
        with reading(self._maker, "list the products") as session:
            counts = dict(
                session.execute(
                    select(ReferenceImage.product_id, func.count())
                    .where(ReferenceImage.active.is_(True))
                    .group_by(ReferenceImage.product_id)
                ).all()
            )
            rows = session.scalars(select(Product).order_by(func.lower(Product.name), Product.id)).all()
            return [product_info(r, counts.get(r.id, 0)) for r in rows]

    def rename(self, product_id: int, new_name: str) -> ProductInfo:
        name = clean_name(new_name)
        with transaction(self._maker, f"rename the product to {name!r}") as session:
            row = product_row(session, product_id)
            self._ensure_free(session, name, except_id=row.id)
            row.name = name
            session.flush()
            return self._info(session, row)

    def delete(self, product_id: int, *, delete_history: bool = False) -> None:
        """Delete a product and its references. Refuses (ProductInUseError) while inspections exist, unless
        ``delete_history=True``, which deletes its inspections and chat too (files stay in the store)."""
        with transaction(self._maker, "delete the product") as session:
            row = product_row(session, product_id)
            n = int(
                session.scalar(select(func.count()).select_from(Inspection).where(Inspection.product_id == row.id)) or 0
            )
            if n and not delete_history:
                raise ProductInUseError(
                    f"The product {row.name!r} has {n} recorded inspection{'s' if n != 1 else ''}. Export its history "
                    "first and confirm deleting the history too, or keep the product."
                )
            inspection_ids = select(Inspection.id).where(Inspection.product_id == row.id)
            session.execute(delete(ChatMessage).where(ChatMessage.inspection_id.in_(inspection_ids)))
            session.execute(delete(ChatMessage).where(ChatMessage.product_id == row.id))
            session.execute(delete(Inspection).where(Inspection.product_id == row.id))
            session.execute(delete(ReferenceImage).where(ReferenceImage.product_id == row.id))
            session.delete(row)

    def update_settings(self, product_id: int, settings: dict[str, Any], *, merge: bool = True) -> ProductInfo:
        """Store the product's settings (JSON-ready dict); ``merge`` keeps keys not mentioned."""
        with transaction(self._maker, "save the product settings") as session:
            row = product_row(session, product_id)
            new = copy.deepcopy(row.settings or {}) if merge else {}
            new.update(copy.deepcopy(settings))
            row.settings = new
            session.flush()
            return self._info(session, row)

    def save_calibration(self, product_id: int, calibration: dict[str, Any] | None) -> ProductInfo:
        """Store the automatic calibration (``ProductModel.calibration.to_dict()``), or None to clear it."""
        with transaction(self._maker, "save the calibration") as session:
            row = product_row(session, product_id)
            row.calibration = copy.deepcopy(calibration) if calibration is not None else None
            session.flush()
            return self._info(session, row)

    def set_threshold_override(
        self, product_id: int, threshold: float | None, *, by: str, now: datetime | None = None
    ) -> ProductInfo:
        """Set (or clear with None) the operator's threshold override, recording who and when."""
        if threshold is not None and (not isinstance(threshold, (int, float)) or not math.isfinite(threshold)):
            raise ValidationError(f"The threshold must be a finite number (got {threshold!r}).")
        with transaction(self._maker, "save the threshold override") as session:
            row = product_row(session, product_id)
            if threshold is None:  # back to the automatic threshold: nothing overridden, nobody to name
                row.threshold_override = row.threshold_override_by = row.threshold_override_at = None
            else:
                row.threshold_override = float(threshold)
                row.threshold_override_by = (by or "").strip() or None
                row.threshold_override_at = ensure_utc(now or utc_now(), "now")
            session.flush()
            return self._info(session, row)


__all__ = ["ProductRepository", "clean_name"]
