"""Run an iterator a few items ahead of its consumer, in a thread of its own.

A product's build makes its disturbed copies and simulated defects (NumPy and OpenCV, which release the
interpreter) while the encoder scores the previous ones, so the two overlap on a machine with more than one core.
The items come out in the order the iterator makes them, so anything it draws from a random generator is drawn in
the same order as without the thread: the results are the same, only sooner.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL_S = 0.05


class _End:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetch(Generic[T]):
    """``for item in Prefetch(make_items()):`` with ``make_items`` running up to ``depth`` items ahead. The
    iterator's error is raised to the consumer at the item where it happened. Leaving early (``close``, or the
    ``with`` block) stops the thread after the item it is making."""

    def __init__(self, source: Iterator[T], depth: int = 2, name: str = "prefetch") -> None:
        self._source = source
        self._items: queue.Queue[T | _End | _Failed] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: T | _End | _Failed) -> bool:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_Failed(exc))
            return
        self._put(_End())

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._items.get()
        if isinstance(item, _End):
            self._done = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Failed):
            self._done = True
            self._thread.join()
            raise item.error
        return item

    def close(self) -> None:
        """Stop making items and wait for the thread (at most the item it is making)."""
        self._done = True
        self._stop.set()
        while True:  # let a producer blocked on a full queue see the stop
            try:
                self._items.get_nowait()
            except queue.Empty:
                break
        self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["Prefetch"]
