"""Plain, immutable records the repository hands to the UI and the chat (never ORM objects).

They hold only values, so any thread may read them after the session closed, with no lazy loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProductInfo:
    id: int
    name: str
    created_at: datetime
    settings: dict[str, Any]
    calibration: dict[str, Any] | None
    threshold_override: float | None
    threshold_override_by: str | None
    threshold_override_at: datetime | None
    reference_count: int = 0  # active references

    @property
    def calibrated_threshold(self) -> float | None:
        if self.calibration and isinstance(self.calibration.get("threshold"), (int, float)):
            return float(self.calibration["threshold"])
        return None

    @property
    def threshold_in_use(self) -> float | None:
        """The operator override where set, else the automatic (calibrated) threshold."""
        return self.threshold_override if self.threshold_override is not None else self.calibrated_threshold


@dataclass(frozen=True)
class ReferenceInfo:
    id: int
    product_id: int
    image_path: str  # relative to the image store
    image_file: Path  # absolute
    image_sha256: str
    width: int
    height: int
    added_at: datetime
    source: str
    original_name: str | None
    active: bool


@dataclass(frozen=True)
class InspectionRecord:
    id: int
    time: datetime
    product_id: int
    product_name: str
    station: str
    operator: str
    source: str
    source_name: str | None
    verdict: str
    probability: float
    score: float
    threshold: float
    threshold_overridden: bool
    calibration_id: str
    encoder_id: str
    model_ids: dict[str, Any]
    mode: str
    pool_size: int
    adapted_parts: int
    width: int
    height: int
    image_path: str
    image_file: Path
    image_sha256: str
    heatmap_path: str | None
    heatmap_file: Path | None
    heatmap_sha256: str | None
    regions: tuple[dict[str, Any], ...]
    timings: dict[str, Any]
    review_status: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    part_id: str | None = None  # the PLC's id of the part (line runner)

    @property
    def reviewed(self) -> bool:
        return self.review_status != "none"

    @property
    def region_locations(self) -> tuple[str, ...]:
        return tuple(str(r.get("location", "")) for r in self.regions if isinstance(r, dict))


@dataclass(frozen=True)
class ChatMessageInfo:
    id: int
    inspection_id: int | None
    product_id: int | None
    role: str
    text: str
    time: datetime


@dataclass(frozen=True)
class HistoryFilter:
    """Which inspections the history view shows. ``None`` means "any". Dates are tz-aware; ``end`` is exclusive.

    ``reviewed``: True = only reviewed ones, False = only unreviewed. ``review_status`` picks one status.
    ``review_requested``: True = only the open requests of operators (marked for review, not labelled since).
    ``limit``/``offset`` page the list (``limit=None``: all). CSV export ignores paging.
    """

    product_id: int | None = None
    verdict: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    reviewed: bool | None = None
    review_status: str | None = None
    station: str | None = None
    review_requested: bool | None = None  # True: only parts an operator marked for review, not labelled since
    limit: int | None = 200
    offset: int = 0
    newest_first: bool = True


@dataclass(frozen=True)
class HistoryPage:
    records: tuple[InspectionRecord, ...]
    total: int  # rows matching the filter, ignoring limit/offset
    filter: HistoryFilter = field(default_factory=HistoryFilter)


__all__ = ["ChatMessageInfo", "HistoryFilter", "HistoryPage", "InspectionRecord", "ProductInfo", "ReferenceInfo"]
