"""The station's open problems: what went wrong, how bad it is and what to do, until it is resolved.

Every part of the station that can fail (the camera, the database, the model, a product, the audit chain) raises a
:class:`Problem` under its own key and clears that key when the cause is gone. The list keeps every open problem,
newest first, so a camera warning never hides an "inspection not saved" error. Qt-free: the window shows it
(desktop/widgets/problem_list.py); the same list can back any other face.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    """How a message reads; ordered so that ``max`` of several is the most urgent."""

    INFO = 0
    SUCCESS = 1  # an action went through (an export, a review)
    WARNING = 2  # the station works on, but someone should look (a camera reconnecting, drift)
    ERROR = 3  # something is not done (an inspection not saved, a product not ready): it needs an action


@dataclass(frozen=True)
class Problem:
    key: str  # who raised it ("camera", "database", "product", ...): the same key replaces or clears it
    text: str  # what happened and what to do, for a person
    severity: Severity = Severity.ERROR
    action_text: str | None = None  # the label of the one button that helps ("Retry", "Open products…")
    action: Callable[[], None] | None = field(default=None, compare=False)


Listener = Callable[[], None]


class ProblemList:
    """Open problems, newest first. ``raise_problem`` adds one or replaces the one with the same key (moving it to
    the top); ``clear`` resolves a key. Listeners are called after every change, on the caller's thread."""

    def __init__(self) -> None:
        self._items: list[Problem] = []
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def raise_problem(self, problem: Problem) -> None:
        with self._lock:
            self._items = [problem, *(p for p in self._items if p.key != problem.key)]
        self._changed()

    def clear(self, key: str) -> bool:
        """Resolve the problem under ``key``; False when there was none."""
        with self._lock:
            kept = [p for p in self._items if p.key != key]
            changed = len(kept) != len(self._items)
            self._items = kept
        if changed:
            self._changed()
        return changed

    def items(self) -> list[Problem]:
        with self._lock:
            return list(self._items)

    def get(self, key: str) -> Problem | None:
        with self._lock:
            return next((p for p in self._items if p.key == key), None)

    def newest(self) -> Problem | None:
        with self._lock:
            return self._items[0] if self._items else None

    def worst(self) -> Severity | None:
        with self._lock:
            return max((p.severity for p in self._items), default=None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


__all__ = ["Problem", "ProblemList", "Severity"]
