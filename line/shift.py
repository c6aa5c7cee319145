"""Shift counters: parts inspected, OK, NG and the yield of the current shift, reset when the next shift starts.

Shifts start at fixed local times of day (``ShiftSchedule``, e.g. 06:00, 14:00, 22:00); a part counts in the shift
its inspection time falls in. The counters can be seeded from the database at start, so a restart mid-shift keeps
the shift's numbers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from line.events import ShiftCounts

DEFAULT_SHIFT_STARTS = ("06:00", "14:00", "22:00")


def parse_clock(text: str) -> time:
    """'06:00' -> time(6, 0); ValueError with the text otherwise."""
    try:
        hours, minutes = str(text).strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not a time of day HH:MM") from None


@dataclass(frozen=True)
class ShiftSchedule:
    starts: tuple[time, ...]

    @classmethod
    def from_strings(cls, starts: Sequence[str] = DEFAULT_SHIFT_STARTS) -> ShiftSchedule:
        parsed = tuple(sorted({parse_clock(s) for s in starts}))
        if not parsed:
            raise ValueError("a shift schedule needs at least one start time")
        return cls(parsed)

    def shift_start(self, when: datetime) -> datetime:
        """The start of the shift ``when`` (an aware or naive local datetime) falls in."""
        day = when.date()
        candidates = [
            datetime.combine(day + timedelta(days=d), t, tzinfo=when.tzinfo) for d in (-1, 0) for t in self.starts
        ]
        return max(c for c in candidates if c <= when)


class ShiftCounters:
    """Thread-safe counters of the current shift."""

    def __init__(self, schedule: ShiftSchedule | None = None) -> None:
        self.schedule = schedule or ShiftSchedule.from_strings()
        self._lock = threading.Lock()
        self._start = self.schedule.shift_start(datetime.now().astimezone())
        self._total = self._ok = self._ng = 0

    def _roll(self, when: datetime) -> None:
        start = self.schedule.shift_start(when)
        if start > self._start:
            self._start = start
            self._total = self._ok = self._ng = 0

    def count(self, ok: bool, when: datetime | None = None) -> ShiftCounts:
        """Count one recorded part (its inspection time, local); returns the new counts."""
        with self._lock:
            when = when or datetime.now().astimezone()
            self._roll(when)
            if when < self._start:  # written late (kept from an earlier run): it belongs to an earlier shift
                return self._counts()
            self._total += 1
            if ok:
                self._ok += 1
            else:
                self._ng += 1
            return self._counts()

    def seed(self, total: int, ng: int, shift_start: datetime | None = None) -> ShiftCounts:
        """Start from what the database already holds for this shift."""
        with self._lock:
            if shift_start is not None:
                self._start = shift_start
            self._total, self._ng = int(total), int(ng)
            self._ok = self._total - self._ng
            return self._counts()

    def reset(self, when: datetime | None = None) -> ShiftCounts:
        """Start counting from zero now (a supervisor's reset); the shift's start stays."""
        with self._lock:
            self._roll(when or datetime.now().astimezone())
            self._total = self._ok = self._ng = 0
            return self._counts()

    def current(self, when: datetime | None = None) -> ShiftCounts:
        with self._lock:
            self._roll(when or datetime.now().astimezone())
            return self._counts()

    @property
    def shift_start(self) -> datetime:
        with self._lock:
            return self._start

    def _counts(self) -> ShiftCounts:
        return ShiftCounts(self._start.timestamp(), self._total, self._ok, self._ng)
