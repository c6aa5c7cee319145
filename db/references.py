"""Normal reference images of a product. The file is stored (durably) first, then the row is written."""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from .convert import reference_info
from .errors import ValidationError
from .image_store import ImageStore, StoredFile
from .lookup import product_row, reference_row
from .models import ReferenceImage
from .records import ReferenceInfo
from .session import reading, transaction
from .types import ensure_utc, utc_now

ImageInput = np.ndarray | bytes | bytearray | str | os.PathLike[str] | StoredFile


def store_image(store: ImageStore, image: ImageInput) -> tuple[StoredFile, str | None]:
    """Put an array (encoded as PNG), encoded bytes or an image file into the store; returns the file and, for a
    file path, its original name. Bytes and files must decode as images."""
    if isinstance(image, StoredFile):
        if not image.width or not image.height:
            raise ValidationError(
                "A stored file without its image size cannot be used as an image; store it with check_image=True."
            )
        return image, None
    if isinstance(image, np.ndarray):
        return store.put_png(image), None
    if isinstance(image, (bytes, bytearray, memoryview)):
        return store.put_bytes(image, check_image=True), None
    if isinstance(image, (str, os.PathLike)):
        return store.put_file(image, check_image=True), Path(image).name
    raise TypeError(f"cannot store an image given as {type(image).__name__}")


class ReferenceRepository:
    def __init__(self, maker: sessionmaker[Session], store: ImageStore) -> None:
        self._maker = maker
        self._store = store

    def _stage(
        self, images: Iterable[ImageInput], original_names: Sequence[str | None] | None
    ) -> list[tuple[StoredFile, str | None]]:
        staged = [store_image(self._store, img) for img in images]  # files first: durable before any row
        if original_names is not None:
            names = list(original_names)
            if len(names) != len(staged):
                raise ValueError("original_names must match the images one to one")
            staged = [(f, n if n is not None else old) for (f, old), n in zip(staged, names, strict=False)]
        return staged

    @staticmethod
    def _upsert(
        session: Session, product_id: int, stored: StoredFile, name: str | None, source: str, now: datetime
    ) -> ReferenceImage:
        existing = session.scalars(
            select(ReferenceImage).where(
                ReferenceImage.product_id == product_id, ReferenceImage.image_sha256 == stored.sha256
            )
        ).one_or_none()
        if existing is not None:  # same picture again: keep one row, make sure it is in use
            existing.active = True
            return existing
        row = ReferenceImage(
            product_id=product_id,
            image_path=stored.relpath,
            image_sha256=stored.sha256,
            width=stored.width,
            height=stored.height,
            added_at=now,
            source=source,
            original_name=name,
            active=True,
        )
        session.add(row)
        return row

    def add(
        self,
        product_id: int,
        images: ImageInput | Sequence[ImageInput],
        *,
        source: str = "file",
        original_names: Sequence[str | None] | None = None,
        now: datetime | None = None,
    ) -> list[ReferenceInfo]:
        """Add one or several references (arrays, image bytes, file paths). Adding an image the product already
        has keeps a single row (re-activated). Returns the rows in the order given."""
        batch = (
            [images]
            if isinstance(images, (np.ndarray, bytes, bytearray, str, os.PathLike, StoredFile))
            else list(images)
        )
        if not batch:
            raise ValidationError("No reference images were given. Choose at least one image of a good part.")
        staged = self._stage(batch, original_names)
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "save the reference images") as session:
            product = product_row(session, product_id)
            rows = [self._upsert(session, product.id, f, n, source, when) for f, n in staged]
            session.flush()
            return [reference_info(r, self._store) for r in rows]

    def replace(
        self,
        product_id: int,
        images: Sequence[ImageInput],
        *,
        source: str = "file",
        original_names: Sequence[str | None] | None = None,
        now: datetime | None = None,
    ) -> list[ReferenceInfo]:
        """Replace the product's whole reference set in one transaction (old rows removed, files kept)."""
        batch = list(images)
        if not batch:
            raise ValidationError("No reference images were given. Choose at least one image of a good part.")
        staged = self._stage(batch, original_names)
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "replace the reference images") as session:
            product = product_row(session, product_id)
            keep = {f.sha256 for f, _ in staged}
            session.execute(
                delete(ReferenceImage).where(
                    ReferenceImage.product_id == product.id, ReferenceImage.image_sha256.not_in(keep)
                )
            )
            rows = [self._upsert(session, product.id, f, n, source, when) for f, n in staged]
            session.flush()
            return [reference_info(r, self._store) for r in rows]

    def remove(self, reference_id: int) -> None:
        """Delete the row (the file stays in the store: other rows may share it, and it is harmless)."""
        with transaction(self._maker, "remove the reference image") as session:
            session.delete(reference_row(session, reference_id))

    def set_active(self, reference_id: int, active: bool) -> ReferenceInfo:
        with transaction(self._maker, "update the reference image") as session:
            row = reference_row(session, reference_id)
            row.active = bool(active)
            session.flush()
            return reference_info(row, self._store)

    def list(self, product_id: int, *, active_only: bool = True) -> list[ReferenceInfo]:
        with reading(self._maker, "list the reference images") as session:
            product = product_row(session, product_id)
            query = select(ReferenceImage).where(ReferenceImage.product_id == product.id)
            if active_only:
                query = query.where(ReferenceImage.active.is_(True))
            rows = session.scalars(query.order_by(ReferenceImage.added_at, ReferenceImage.id)).all()
            return [reference_info(r, self._store) for r in rows]

    def load_arrays(self, product_id: int) -> builtins.list[np.ndarray]:
        """The active references decoded as RGB uint8 arrays (input of ``Inspector.build_product``)."""
        return [self._store.read_array(r.image_sha256) for r in self.list(product_id)]


__all__ = ["ImageInput", "ReferenceRepository", "store_image"]
