"""The products dialog's repositories as the logged-in user: the same methods as ``Database.products`` and
``Database.references`` (what desktop/dialogs/products_dialog.py calls), but every write goes through
db/guarded.py, so the role is checked and the audit event is written in the same transaction.

    products, references = guarded_repositories(guarded, lambda: login.user)
    ProductsDialog(products, references, current_frame, parent=window)

Reading stays on the plain repositories. With nobody logged in, a write is refused ("Log in to ...").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from db.guarded import GuardedDatabase
from db.records import ProductInfo, ReferenceInfo
from db.users import UserInfo

CurrentUser = Callable[[], UserInfo | None]


class GuardedProducts:
    def __init__(self, guarded: GuardedDatabase, user: CurrentUser) -> None:
        self._guarded, self._user = guarded, user

    def list(self) -> list[ProductInfo]:
        return self._guarded.database.products.list()

    def get(self, product: int | str) -> ProductInfo:
        return self._guarded.database.products.get(product)

    def create(self, name: str, **kw: Any) -> ProductInfo:
        return self._guarded.create_product(self._user(), name, **kw)  # type: ignore[arg-type]


class GuardedReferences:
    def __init__(self, guarded: GuardedDatabase, user: CurrentUser) -> None:
        self._guarded, self._user = guarded, user

    def list(self, product_id: int, *, active_only: bool = True) -> list[ReferenceInfo]:
        return self._guarded.database.references.list(product_id, active_only=active_only)

    def add(self, product_id: int, images: Any, *, source: str = "file", **kw: Any) -> list[ReferenceInfo]:
        return self._guarded.add_references(self._user(), product_id, images, source=source, **kw)  # type: ignore[arg-type]

    def replace(self, product_id: int, images: Sequence[Any], *, source: str = "file") -> list[ReferenceInfo]:
        return self._guarded.replace_references(self._user(), product_id, images, source=source)  # type: ignore[arg-type]

    def remove(self, reference_id: int) -> None:
        self._guarded.remove_reference(self._user(), reference_id)  # type: ignore[arg-type]


def guarded_repositories(guarded: GuardedDatabase, user: CurrentUser) -> tuple[GuardedProducts, GuardedReferences]:
    return GuardedProducts(guarded, user), GuardedReferences(guarded, user)


__all__ = ["GuardedProducts", "GuardedReferences", "guarded_repositories"]
