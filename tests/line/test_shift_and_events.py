"""Shift counters reset when the next shift starts; observers get typed events and one broken observer does not
stop the others; the filmstrip keeps the last N parts, newest first."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from line.event_bus import EventBus
from line.events import CountersChanged, ErrorCode, FaultRaised, PartSummary, StateChanged, StationState
from line.recent_parts import RecentParts, thumbnail
from line.shift import ShiftCounters, ShiftSchedule, parse_clock
from line.station_status import StationStatus, TriggerRefusedError

TZ = timezone(timedelta(hours=1))


def at(hour: int, minute: int = 0, day: int = 4) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=TZ)


def test_shift_start_follows_the_schedule_across_midnight():
    s = ShiftSchedule.from_strings(["06:00", "14:00", "22:00"])
    assert s.shift_start(at(7)) == at(6)
    assert s.shift_start(at(14)) == at(14)
    assert s.shift_start(at(23, 30)) == at(22)
    assert s.shift_start(at(3)) == at(22, day=3)  # the night shift began yesterday


def test_counters_count_and_reset_at_the_next_shift():
    c = ShiftCounters(ShiftSchedule.from_strings(["06:00", "14:00"]))
    c.seed(0, 0, shift_start=at(6))
    c.count(True, at(7))
    c.count(False, at(8))
    counts = c.count(True, at(13, 59))
    assert (counts.total, counts.ok, counts.ng) == (3, 2, 1) and counts.yield_pct == pytest.approx(200 / 3)
    counts = c.count(True, at(14, 1))
    assert (counts.total, counts.ok, counts.ng) == (1, 1, 0) and counts.shift_start == at(14).timestamp()
    assert c.reset(at(15)).total == 0 and c.current(at(15)).yield_pct is None


def test_bad_clock_text_is_named():
    with pytest.raises(ValueError, match="'25h' is not a time of day"):
        parse_clock("25h")


def test_observers_get_typed_events_and_a_broken_one_does_not_stop_the_rest():
    bus = EventBus()
    got: list = []

    def broken(event):
        raise RuntimeError("observer bug")

    bus.subscribe(broken)
    bus.subscribe(got.append, StateChanged)
    status = StationStatus(bus)
    status.set_products({1: "widget"})
    status.select_product(1)
    status.set_model_ready("enc")
    status.product_ready(1)
    assert [e.state for e in got] == [StationState.READY]
    status.raise_fault(ErrorCode.CAMERA_LOST, "Camera 0 unplugged")
    assert got[-1].state is StationState.ERROR and got[-1].previous is StationState.READY
    status.clear_fault(ErrorCode.CAMERA_LOST)
    assert got[-1].state is StationState.READY


def test_refusals_name_the_reason_and_do_not_change_the_state():
    bus = EventBus()
    faults: list = []
    bus.subscribe(faults.append, FaultRaised)
    status = StationStatus(bus)
    with pytest.raises(TriggerRefusedError) as refused:
        status.begin_part("p1")
    assert refused.value.fault.code is ErrorCode.NOT_READY and "loading" in refused.value.fault.text
    assert status.state is StationState.IDLE and status.snapshot().error_code is ErrorCode.NOT_READY


def test_recent_parts_keep_the_newest_n():
    recent = RecentParts(3)
    for i in range(5):
        recent.add(PartSummary(i, f"P{i}", 1, "w", "PASS", 0.1, 0.0))
    assert [p.inspection_id for p in recent.parts()] == [4, 3, 2]
    small = thumbnail(np.zeros((480, 640, 3), np.uint8))
    assert small.shape == (72, 96, 3)


def test_counter_events_carry_the_counts():
    bus = EventBus()
    got: list = []
    bus.subscribe(got.append, CountersChanged)
    status = StationStatus(bus)
    status.seed_counters(10, 2)
    assert got[-1].counts.total == 10 and got[-1].counts.ok == 8 and got[-1].counts.ng == 2
