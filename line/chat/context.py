"""What a chat question is about: the part on screen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.result import InspectionResult


@dataclass(frozen=True)
class ChatContext:
    """The part the question is about: the latest inspection (None before the first one)."""

    result: InspectionResult | None
    frame: np.ndarray | None = None
    product: str | None = None
