"""The signals a PLC reads, computed from one snapshot of the station (line/station_status.py). The OPC UA node set
and the Modbus register map (docs/plc.md) both show exactly these values."""

from __future__ import annotations

from dataclasses import dataclass

from line.station_status import Snapshot

MAX_PART_ID = 32  # characters of a part id the PLC interfaces carry (Modbus: 16 registers, 2 ASCII bytes each)
MAX_ERROR_TEXT = 200


@dataclass(frozen=True)
class PlcSignals:
    state: int
    ready: bool
    busy: bool
    result_ready: bool
    result_ok: bool
    result_ng: bool
    probability: float
    result_part_id: str
    inspection_id: int
    recipe_id: int
    error_code: int
    error_text: str
    count_total: int
    count_ok: int
    count_ng: int


def signals_of(snap: Snapshot) -> PlcSignals:
    result = snap.result
    return PlcSignals(
        state=int(snap.state),
        ready=snap.ready,
        busy=snap.in_flight is not None,
        result_ready=snap.result_ready,
        result_ok=result is not None and result.ok,
        result_ng=result is not None and not result.ok,
        probability=float(result.probability) if result is not None else 0.0,
        result_part_id=(result.part_id or "") if result is not None else "",
        inspection_id=int(result.inspection_id) if result is not None else 0,
        recipe_id=int(snap.product_id) if snap.product_id is not None else 0,
        error_code=int(snap.error_code),
        error_text=snap.error_text[:MAX_ERROR_TEXT],
        count_total=snap.counts.total,
        count_ok=snap.counts.ok,
        count_ng=snap.counts.ng,
    )
