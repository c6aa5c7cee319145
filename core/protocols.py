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
    from core.own_map import OwnMap, Pause
    from core.result import InspectionResult
    from core.settings import DecoderSettings

Progress = Callable[[float, str], None]


class CalibrationView(Protocol):
    """What the station reads of a product's calibration."""

    @property
    def effective_threshold(self) -> float: ...

    def to_dict(self) -> dict[str, Any]: ...


class BuiltProduct(Protocol):
    """A product built from its references (core.product.ProductModel, or a test fake's product), as the threads
    that hold it see it."""

    @property
    def name(self) -> str: ...

    @property
    def encoder_id(self) -> str: ...

    @property
    def settings(self) -> DecoderSettings | None: ...

    @property
    def calibration(self) -> CalibrationView: ...

    @property
    def own_map(self) -> OwnMap | None: ...

    @property
    def adapted_parts(self) -> int: ...

    def with_threshold_override(self, threshold: float, by: str = "operator") -> BuiltProduct: ...

    def save(self, folder: Path) -> Path: ...


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
        own_map: OwnMap | None = None,
    ) -> BuiltProduct: ...

    def encoder_id_for(self, own: OwnMap | None) -> str:
        """The encoder id of a product built with the product's own map ``own`` (or without one)."""
        ...

    # ``product``: one this inspector built; ``parts``: working-size images of the product's own good parts
    def adapt_product(
        self,
        product: Any,
        references: Sequence[np.ndarray],
        parts: Sequence[np.ndarray],
        keys: Sequence[str] = (),
        seed: int = 0,
        pause: Pause | None = None,
        progress: Progress | None = None,
    ) -> BuiltProduct: ...

    # ``product``: one this inspector built (an implementation may require its own type, so it is not narrowed here)
    def inspect(self, frame: np.ndarray, product: Any, pool: LinePool | None = None) -> InspectionResult: ...


__all__ = ["BuiltProduct", "CalibrationView", "InspectorProtocol", "Progress"]
