"""Finding rows by id (or product by name) with human NotFound messages."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import NotFoundError
from .models import Inspection, Product, ReferenceImage


def product_row(session: Session, product: int | str, *, for_update: bool = False) -> Product:
    """The product with this id (int) or exact name (str)."""
    if isinstance(product, str):
        row = session.scalars(select(Product).where(Product.name == product.strip())).one_or_none()
    else:
        row = session.get(Product, int(product), with_for_update=for_update)
    if row is None:
        names = session.scalars(select(Product.name).order_by(Product.name).limit(10)).all()
        known = f" Known products: {', '.join(names)}." if names else " No products exist yet."
        what = f"named {product!r}" if isinstance(product, str) else f"with id {product}"
        raise NotFoundError(f"There is no product {what}; it may have been deleted.{known}")
    return row


def inspection_row(session: Session, inspection_id: int) -> Inspection:
    row = session.get(Inspection, int(inspection_id))
    if row is None:
        raise NotFoundError(
            f"Inspection #{inspection_id} does not exist (deleted with its product?). Refresh the history."
        )
    return row


def reference_row(session: Session, reference_id: int) -> ReferenceImage:
    row = session.get(ReferenceImage, int(reference_id))
    if row is None:
        raise NotFoundError(f"Reference image #{reference_id} does not exist any more. Refresh the list.")
    return row


def active_reference_count(session: Session, product_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ReferenceImage)
            .where(ReferenceImage.product_id == product_id, ReferenceImage.active.is_(True))
        )
        or 0
    )
