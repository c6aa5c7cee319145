"""The station's state, held in one Qt-free object that the window, the PLC servers and the line runner observe.

It holds what the station knows (model loaded, products, the chosen product and which are ready, auto mode, the
part in flight, the result waiting for the PLC's acknowledgement, the active faults, the shift counters and the
last parts) and derives the state from it:

    ERROR        while a lasting fault is active (camera lost, database refusing, ack timeout, model failed)
    BUSY         while a part is being acquired, inspected and recorded
    RESULT_READY while a recorded result waits for the acknowledgement
    READY        a product is ready
    IDLE         otherwise (model loading, no product, product building or failed)

Every change publishes typed events (line/events.py) on ``bus``. Thread-safe: calls come from the inference and
recording threads, the PLC servers' event loops and the window.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from line.event_bus import EventBus
from line.events import (
    LASTING_FAULTS,
    AutoModeChanged,
    BuildFailure,
    CameraStatus,
    CountersChanged,
    ErrorCode,
    Fault,
    FaultCleared,
    FaultRaised,
    ModelReady,
    PartFailed,
    PartInspected,
    PartRecorded,
    PartSummary,
    PartTriggered,
    ProductAdapted,
    ProductFailed,
    ProductPreparing,
    ProductReady,
    ProductSelected,
    ProductsListed,
    RecentPartsLoaded,
    RecordFailed,
    ResultAcknowledged,
    ResultCleared,
    ShiftCounts,
    StateChanged,
    StationEvent,
    StationState,
    TriggerRefused,
)
from line.recent_parts import RecentParts, thumbnail
from line.shift import ShiftCounters

if TYPE_CHECKING:
    from db.records import InspectionRecord
    from line.outcome import InspectionOutcome


class TriggerRefusedError(Exception):
    """A trigger the station did not take; ``fault`` says why (the code the PLC reads)."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.text)
        self.fault = fault


@dataclass(frozen=True)
class Snapshot:
    """Everything a PLC reads, taken at one instant."""

    state: StationState
    product_id: int | None
    product_name: str
    in_flight: PartTriggered | None
    result: PartSummary | None  # the last result (kept after its acknowledgement until the next trigger)
    result_ready: bool  # recorded and not yet acknowledged
    fault: Fault | None  # the active lasting fault, else the last refusal since the last accepted trigger
    counts: ShiftCounts

    @property
    def ready(self) -> bool:
        return self.state is StationState.READY

    @property
    def error_code(self) -> ErrorCode:
        return self.fault.code if self.fault is not None else ErrorCode.NONE

    @property
    def error_text(self) -> str:
        return self.fault.text if self.fault is not None else ""


class StationStatus:
    def __init__(
        self,
        bus: EventBus | None = None,
        counters: ShiftCounters | None = None,
        recent: RecentParts | None = None,
    ) -> None:
        self.bus = bus or EventBus()
        self.counters = counters or ShiftCounters()
        self.recent = recent or RecentParts()
        self._lock = threading.RLock()
        self.model_loaded = False
        self.encoder_id: str | None = None
        self.product_names: dict[int, str] = {}
        self.product_id: int | None = None
        self.ready_products: set[int] = set()
        self.product_errors: dict[int, str] = {}  # why a product's model could not be built
        self.auto = False
        self.camera_ok = True  # the line runner's camera delivers (the window follows its camera by itself)
        self.camera_text = ""
        self._faults: dict[ErrorCode, Fault] = {}  # lasting faults, in the order they were raised
        self._refusal: Fault | None = None  # the last one-off fault (refused trigger, failed part)
        self.in_flight: PartTriggered | None = None
        self.result: PartSummary | None = None
        self.result_ready = False
        self._seq = itertools.count(1)
        self._state = StationState.IDLE

    # -- reading ------------------------------------------------------------------------------------------------
    @property
    def state(self) -> StationState:
        with self._lock:
            return self._state

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults.values())

    def has_fault(self, code: ErrorCode) -> bool:
        with self._lock:
            return code in self._faults

    @property
    def product_name(self) -> str:
        with self._lock:
            return self.product_names.get(self.product_id, "") if self.product_id is not None else ""

    def snapshot(self) -> Snapshot:
        with self._lock:
            fault = next(iter(self._faults.values()), None) or self._refusal
            return Snapshot(
                self._state,
                self.product_id,
                self.product_name,
                self.in_flight,
                self.result,
                self.result_ready,
                fault,
                self.counters.current(),
            )

    def _derive(self) -> StationState:
        if self._faults:
            return StationState.ERROR
        if self.in_flight is not None:
            return StationState.BUSY
        if self.result_ready:
            return StationState.RESULT_READY
        if (
            self.model_loaded
            and self.camera_ok
            and self.product_id is not None
            and self.product_id in self.ready_products
        ):
            return StationState.READY
        return StationState.IDLE

    def _publish(self, event: StationEvent) -> None:
        """Publish under the lock (observers see events in the order of the changes) and follow the state."""
        self.bus.publish(event)
        state = self._derive()
        if state is not self._state:
            previous, self._state = self._state, state
            self.bus.publish(StateChanged(state=state, previous=previous))

    # -- the model and the products -----------------------------------------------------------------------------
    def set_model_ready(self, encoder_id: str) -> None:
        with self._lock:
            self.model_loaded, self.encoder_id = True, encoder_id
            self._clear(ErrorCode.MODEL_FAILED)
            self._publish(ModelReady(encoder_id=encoder_id))

    def set_products(self, names: dict[int, str]) -> None:
        with self._lock:
            self.product_names = dict(names)
            self._publish(ProductsListed(names=dict(names)))

    def select_product(self, product_id: int | None) -> None:
        with self._lock:
            self.product_id = product_id
            self._publish(ProductSelected(product_id=product_id, name=self.product_name))

    def product_preparing(self, product_id: int, fraction: float = 0.0, message: str = "") -> None:
        """A build of the product started (or went on): it is not ready until it reports ready."""
        with self._lock:
            if fraction <= 0.0:
                self.ready_products.discard(product_id)
                self.product_errors.pop(product_id, None)
            self._publish(ProductPreparing(product_id=product_id, fraction=float(fraction), message=message))

    def product_ready(
        self, product_id: int, name: str | None = None, threshold: float | None = None, warning: str | None = None
    ) -> None:
        with self._lock:
            self.ready_products.add(product_id)
            self.product_errors.pop(product_id, None)
            if name:
                self.product_names.setdefault(product_id, name)
            self._publish(
                ProductReady(
                    product_id=product_id,
                    name=self.product_names.get(product_id, name or ""),
                    threshold=threshold,
                    warning=warning,
                )
            )

    def product_adapted(self, product_id: int, name: str, parts: int, threshold: float) -> None:
        with self._lock:
            self._publish(
                ProductAdapted(
                    product_id=product_id,
                    name=self.product_names.get(product_id, name),
                    parts=parts,
                    threshold=threshold,
                )
            )

    def product_failed(self, product_id: int, message: str, kind: BuildFailure = BuildFailure.FAILED) -> None:
        with self._lock:
            self.ready_products.discard(product_id)
            self.product_errors[product_id] = message
            self._publish(ProductFailed(product_id=product_id, message=message, kind=kind))

    def set_camera(self, ok: bool, text: str = "", name: str = "") -> None:
        """Whether the camera delivers; while it does not, the station is not Ready (a lost camera is also a fault)."""
        with self._lock:
            self.camera_ok, self.camera_text = bool(ok), text
            self._publish(CameraStatus(name=name, ok=bool(ok), message=text))

    def set_auto(self, on: bool) -> None:
        with self._lock:
            if bool(on) != self.auto:
                self.auto = bool(on)
                self._publish(AutoModeChanged(on=self.auto))

    # -- faults -------------------------------------------------------------------------------------------------
    def raise_fault(self, code: ErrorCode, text: str) -> Fault:
        """A lasting fault (ERROR until cleared) or, for the other codes, the reason the PLC reads until the next
        accepted trigger."""
        fault = Fault(ErrorCode(code), text)
        with self._lock:
            if fault.code in LASTING_FAULTS:
                if self._faults.get(fault.code) == fault:
                    return fault
                self._faults[fault.code] = fault
            else:
                self._refusal = fault
            self._publish(FaultRaised(fault=fault))
        return fault

    def clear_fault(self, code: ErrorCode) -> None:
        with self._lock:
            self._clear(code)

    def _clear(self, code: ErrorCode) -> None:
        if self._faults.pop(code, None) is not None:
            self._publish(FaultCleared(code=code))

    # -- one part -----------------------------------------------------------------------------------------------
    def refusal(self) -> Fault | None:
        """Why a trigger now would be refused, or None when it would be taken."""
        with self._lock:
            if ErrorCode.STOPPING in self._faults:
                return self._faults[ErrorCode.STOPPING]
            if self.in_flight is not None:
                return Fault(
                    ErrorCode.BUSY,
                    f"Part {self.in_flight.part_id or self.in_flight.seq} is still being "
                    "inspected: trigger again once Ready is set.",
                )
            if self.result_ready:
                return Fault(
                    ErrorCode.RESULT_NOT_ACKNOWLEDGED,
                    "The last result was not acknowledged: set ResultAck, then trigger the next part.",
                )
            if self._faults:
                return next(iter(self._faults.values()))
            if not self.model_loaded:
                return Fault(ErrorCode.NOT_READY, "The inspection model is still loading.")
            if not self.camera_ok:
                return Fault(ErrorCode.CAMERA_LOST, self.camera_text or "The camera is not connected yet.")
            if self.product_id is None:
                return Fault(ErrorCode.NOT_READY, "No product (recipe) is chosen.")
            if self.product_id in self.product_errors:
                return Fault(ErrorCode.RECIPE_NOT_READY, self.product_errors[self.product_id])
            if self.product_id not in self.ready_products:
                return Fault(ErrorCode.NOT_READY, f"Product {self.product_name or self.product_id} is being prepared.")
            return None

    def begin_part(self, part_id: str | None) -> PartTriggered:
        """Take a trigger: raises TriggerRefusedError (and tells the observers) when it cannot be taken. A taken
        trigger clears the last result and the last refusal."""
        with self._lock:
            refused = self.refusal()
            if refused is not None:
                if refused.code not in LASTING_FAULTS:
                    self._refusal = refused
                self._publish(TriggerRefused(part_id=part_id, fault=refused))
                raise TriggerRefusedError(refused)
            assert self.product_id is not None
            part = PartTriggered(seq=next(self._seq), part_id=part_id, product_id=self.product_id)
            self._refusal = None
            had_result, self.result = self.result is not None, None
            self.in_flight = part
            if had_result:
                self._publish(ResultCleared())
            self._publish(part)
            return part

    def part_inspected(self, seq: int, outcome: InspectionOutcome) -> None:
        with self._lock:
            self._publish(PartInspected(seq=seq, outcome=outcome))

    def part_recorded(
        self, outcome: InspectionOutcome, record: InspectionRecord, seq: int | None = None, require_ack: bool = True
    ) -> PartSummary:
        """The part's row exists: count it, show it in the filmstrip, and (with ``require_ack``) wait for the PLC's
        acknowledgement. ``seq`` None: a part the window inspected by itself (not one taken with begin_part)."""
        when = datetime.fromtimestamp(outcome.finished_at).astimezone()
        with self._lock:
            mine = seq is not None and self.in_flight is not None and self.in_flight.seq == seq
            part = PartSummary(
                inspection_id=int(record.id),
                part_id=getattr(outcome, "part_id", None),
                product_id=outcome.product_id,
                product_name=outcome.product_name,
                verdict=outcome.result.verdict,
                probability=float(outcome.result.probability),
                inspected_at=float(outcome.finished_at),
                thumbnail=thumbnail(outcome.frame.image),
                seq=seq or 0,
            )
            counts = self.counters.count(part.ok, when)
            self.recent.add(part)
            elapsed_ms = None
            if mine:
                assert self.in_flight is not None
                elapsed_ms = (time.time() - self.in_flight.at) * 1000.0
                self.in_flight = None
                self.result = part
                self.result_ready = require_ack
            self._clear(ErrorCode.DATABASE)
            self._publish(PartRecorded(part=part, outcome=outcome, record=record, elapsed_ms=elapsed_ms))
            self._publish(CountersChanged(counts=counts))
            return part

    def record_failed(self, part_id: str | None, message: str, waiting: int, will_retry: bool) -> None:
        """The database refused a result (it is kept: retried, or put in the unsaved folder)."""
        with self._lock:
            self._publish(RecordFailed(part_id=part_id, message=message, waiting=waiting, will_retry=will_retry))

    def part_failed(self, seq: int, fault: Fault) -> None:
        """The part in flight ended without a verdict (camera, model); the PLC reads the fault's code."""
        with self._lock:
            part_id = self.in_flight.part_id if self.in_flight is not None and self.in_flight.seq == seq else None
            if self.in_flight is not None and self.in_flight.seq == seq:
                self.in_flight = None
            if fault.code in LASTING_FAULTS:
                self._faults.setdefault(fault.code, fault)
            else:
                self._refusal = fault
            self._publish(PartFailed(seq=seq, part_id=part_id, fault=fault))

    def acknowledge(self) -> bool:
        """The PLC acknowledged the result: Ready again (the last result stays readable until the next trigger).
        False when no result was waiting."""
        with self._lock:
            if not self.result_ready:
                return False
            late = ErrorCode.ACK_TIMEOUT in self._faults
            self.result_ready = False
            self._faults.pop(ErrorCode.ACK_TIMEOUT, None)
            self._publish(ResultAcknowledged(part_id=self.result.part_id if self.result else None, late=late))
            if late:
                self._publish(FaultCleared(code=ErrorCode.ACK_TIMEOUT))
            return True

    def reset_counters(self) -> ShiftCounts:
        with self._lock:
            counts = self.counters.reset()
            self._publish(CountersChanged(counts=counts))
            return counts

    def seed_recent(self, parts: list[PartSummary]) -> None:
        with self._lock:
            self.recent.seed(parts)  # merged with any part recorded meanwhile
            self._publish(RecentPartsLoaded(parts=tuple(self.recent.parts())))

    def seed_counters(self, total: int, ng: int) -> ShiftCounts:
        with self._lock:
            counts = self.counters.seed(total, ng)
            self._publish(CountersChanged(counts=counts))
            return counts
