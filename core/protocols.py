"""The typed seams of the inspection library: what a worker thread needs of an inspector.

The real :class:`core.inspector.Inspector` and the tests' fakes both satisfy :class:`InspectorProtocol`; mypy
checks both (tests/typing_conformance.py), so a change to one side that the other does not follow fails the
static checks, not a run on the line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from core.line_pool import LinePool
    from core.result import InspectionResult
    from core.settings import DecoderSettings

Progress = Callable[[float, str], None]


class InspectorProtocol(Protocol):
    """Builds a product from normal references and inspects frames against it; one thread at a time."""

    @property
    def encoder_id(self) -> str: ...

    def build_product(
        self,
        references: Sequence[np.ndarray],
        name: str = "product",
        settings: DecoderSettings | None = None,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
        cache_dir: Path | None = None,
        seed: int = 0,
    ) -> Any: ...  # a core.product.ProductModel (a fake's own product type in tests)

    def inspect(self, frame: np.ndarray, product: Any, pool: LinePool | None = None) -> InspectionResult: ...


__all__ = ["InspectorProtocol", "Progress"]
