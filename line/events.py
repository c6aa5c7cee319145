"""The station's states, error codes and the typed events its observers receive (the window, the PLC servers,
MQTT status, the log). Observers compare types and enum members, never strings.

Numbers are part of the PLC interface (docs/plc.md): ``StationState`` values are what the PLC reads in ``State``,
``ErrorCode`` values what it reads in ``ErrorCode``. Never renumber; add new members at the end of their range.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from db.records import InspectionRecord
    from line.outcome import InspectionOutcome


class StationState(IntEnum):
    IDLE = 0  # no product ready (model loading, no product chosen, product building or failed)
    READY = 1  # a product is ready and the camera delivers: a trigger is taken
    BUSY = 2  # a part is being acquired, inspected and recorded
    RESULT_READY = 3  # the part's result is durably recorded and waits for the PLC's acknowledgement
    ERROR = 4  # something needs attention (ErrorCode / ErrorText say what); triggers are refused


class ErrorCode(IntEnum):
    NONE = 0
    BUSY = 1  # a trigger arrived while a part was still being inspected
    NOT_READY = 2  # a trigger before any product was ready (model loading, no product, product building)
    UNKNOWN_RECIPE = 3  # the PLC asked for a recipe (product) id the station does not have
    ACK_TIMEOUT = 4  # the PLC did not acknowledge a result in time
    RESULT_NOT_ACKNOWLEDGED = 5  # a trigger arrived while the last result still waited for its acknowledgement
    RECIPE_NOT_READY = 6  # the recipe exists but its model could not be built (no references, broken file)
    CAMERA_LOST = 10  # the camera stopped delivering or was unplugged (the station reconnects by itself)
    CAMERA_TIMEOUT = 11  # no frame arrived within the acquisition timeout after a trigger
    CAMERA_NOT_FOUND = 12  # the configured camera (serial number, device) does not exist
    INSPECTION_FAILED = 20  # the model could not inspect the frame
    MODEL_FAILED = 21  # the inspection model could not be loaded
    DATABASE = 30  # the database refuses the result; the station keeps it and retries by itself
    RECORD_REFUSED = 31  # this result can never be stored as it is (kept in the unsaved folder, see the log)
    STOPPING = 40  # the station is shutting down


class BuildFailure(Enum):
    """Why a product could not be made ready (ProductFailed.kind): what the window offers depends on it."""

    FAILED = "failed"  # building raised: the message says why (a broken reference file, the model's error)
    NO_REFERENCES = "no_references"  # the product has no normal reference yet: add one
    MODEL_NOT_LOADED = "model_not_loaded"  # the inspection model itself is not loaded
    DATABASE = "database"  # the product's references could not be read from the database


# Faults that hold until the cause is gone (the station clears them itself); the others describe one part or
# one trigger and are cleared by the next accepted trigger.
LASTING_FAULTS = frozenset(
    {
        ErrorCode.CAMERA_LOST,
        ErrorCode.CAMERA_NOT_FOUND,
        ErrorCode.MODEL_FAILED,
        ErrorCode.DATABASE,
        ErrorCode.ACK_TIMEOUT,
        ErrorCode.STOPPING,
    }
)


@dataclass(frozen=True)
class Fault:
    code: ErrorCode
    text: str


@dataclass(frozen=True)
class PartSummary:
    """One recorded part as the filmstrip and the PLC see it."""

    inspection_id: int
    part_id: str | None
    product_id: int
    product_name: str
    verdict: str  # "PASS" / "FAIL" (core/result.py)
    probability: float
    inspected_at: float  # time.time()
    thumbnail: Any = None  # small RGB uint8 array, or None
    seq: int = 0  # the station's running number of the part since start

    @property
    def ok(self) -> bool:
        return self.verdict == "PASS"


@dataclass(frozen=True)
class ShiftCounts:
    shift_start: float  # time.time() of the shift's start
    total: int = 0
    ok: int = 0
    ng: int = 0

    @property
    def yield_pct(self) -> float | None:
        return 100.0 * self.ok / self.total if self.total else None


@dataclass(frozen=True, kw_only=True)
class StationEvent:
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, kw_only=True)
class StateChanged(StationEvent):
    state: StationState
    previous: StationState


@dataclass(frozen=True, kw_only=True)
class ModelReady(StationEvent):
    encoder_id: str


@dataclass(frozen=True, kw_only=True)
class ProductsListed(StationEvent):
    names: dict[int, str]


@dataclass(frozen=True, kw_only=True)
class ProductSelected(StationEvent):
    product_id: int | None
    name: str


@dataclass(frozen=True, kw_only=True)
class ProductPreparing(StationEvent):
    product_id: int
    fraction: float
    message: str


@dataclass(frozen=True, kw_only=True)
class ProductReady(StationEvent):
    product_id: int
    name: str
    threshold: float | None = None
    warning: str | None = None  # the build's own evidence says the verdict will miss defects (core.calibration_warning)


@dataclass(frozen=True, kw_only=True)
class ProductAdapted(StationEvent):
    """Line mode fitted the product's own map on its parts and rebuilt it (core/own_map.py)."""

    product_id: int
    name: str
    parts: int
    threshold: float


@dataclass(frozen=True, kw_only=True)
class ProductFailed(StationEvent):
    product_id: int
    message: str
    kind: BuildFailure = BuildFailure.FAILED


@dataclass(frozen=True, kw_only=True)
class AutoModeChanged(StationEvent):
    on: bool


@dataclass(frozen=True, kw_only=True)
class PartTriggered(StationEvent):
    seq: int
    part_id: str | None
    product_id: int


@dataclass(frozen=True, kw_only=True)
class TriggerRefused(StationEvent):
    part_id: str | None
    fault: Fault


@dataclass(frozen=True, kw_only=True)
class PartInspected(StationEvent):
    """The verdict is known; it is not recorded yet (the PLC is told only after PartRecorded)."""

    seq: int
    outcome: InspectionOutcome


@dataclass(frozen=True, kw_only=True)
class PartRecorded(StationEvent):
    """The part's inspection row (and its MQTT outbox message) exist in the database."""

    part: PartSummary
    outcome: InspectionOutcome | None = None
    record: InspectionRecord | None = None
    elapsed_ms: float | None = None  # from the accepted trigger to the durable record (PLC-triggered parts)


@dataclass(frozen=True, kw_only=True)
class PartFailed(StationEvent):
    """The part could not be inspected (camera, model): no verdict, no row."""

    seq: int
    part_id: str | None
    fault: Fault


@dataclass(frozen=True, kw_only=True)
class ResultAcknowledged(StationEvent):
    part_id: str | None
    late: bool = False  # the acknowledgement came after the timeout had raised ACK_TIMEOUT


@dataclass(frozen=True, kw_only=True)
class ResultCleared(StationEvent):
    """A new trigger cleared the last result (ResultOK / ResultNG / Probability go back to zero)."""


@dataclass(frozen=True, kw_only=True)
class FaultRaised(StationEvent):
    fault: Fault


@dataclass(frozen=True, kw_only=True)
class FaultCleared(StationEvent):
    code: ErrorCode


@dataclass(frozen=True, kw_only=True)
class CountersChanged(StationEvent):
    counts: ShiftCounts


@dataclass(frozen=True, kw_only=True)
class RecentPartsLoaded(StationEvent):
    """At start: the last parts the database holds, newest first, so the filmstrip continues where it stopped."""

    parts: tuple[PartSummary, ...]


@dataclass(frozen=True, kw_only=True)
class CameraStatus(StationEvent):
    name: str
    ok: bool
    message: str


@dataclass(frozen=True, kw_only=True)
class RecordFailed(StationEvent):
    """The database did not take a result; with ``will_retry`` it is kept and written again by itself."""

    part_id: str | None
    message: str
    waiting: int  # results waiting for the database, this one included
    will_retry: bool = True
