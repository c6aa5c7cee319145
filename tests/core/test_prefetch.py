"""core/prefetch.py, and the build that uses it: the disturbed copies and simulated defects made ahead in a thread
give exactly the product the same build makes without the thread."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import core.inspector as inspector_module
from core.prefetch import Prefetch
from tests.core.synth import make_part


def _alive(name: str) -> bool:
    return any(t.name == name and t.is_alive() for t in threading.enumerate())


def test_items_come_in_order_and_the_thread_ends():
    with Prefetch(iter(range(50)), depth=3, name="t-order") as items:
        assert list(items) == list(range(50))
    assert not _alive("t-order")


def test_the_iterators_error_reaches_the_consumer_at_its_item():
    def source():
        yield 1
        yield 2
        raise ValueError("the simulation failed")

    got = []
    with pytest.raises(ValueError, match="the simulation failed"), Prefetch(source(), name="t-error") as items:
        got.extend(items)
    assert got == [1, 2]
    assert not _alive("t-error")


def test_leaving_early_stops_the_thread_after_the_item_it_is_making():
    made = []

    def slow():
        for i in range(1000):
            time.sleep(0.01)
            made.append(i)
            yield i

    with Prefetch(slow(), depth=2, name="t-early") as items:
        assert next(items) == 0
    assert not _alive("t-early")
    assert len(made) <= 5  # at most the queue's depth and the item in the making, not the thousand


class _InOrder:
    """The same iterator consumed in the caller's thread: what the build did before core.prefetch."""

    def __init__(self, source, depth=2, name=""):
        self._source = iter(source)

    def __iter__(self):
        return self._source

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.mark.parametrize("k", [1, 2])
def test_the_build_with_the_copies_made_ahead_is_the_build_without(inspector, monkeypatch, k):
    rng = np.random.default_rng(7)
    refs = [make_part(rng, size=160) for _ in range(k)]
    ahead = inspector.build_product(refs, name="ahead", seed=3)
    monkeypatch.setattr(inspector_module, "Prefetch", _InOrder)
    in_order = inspector.build_product(refs, name="in-order", seed=3)
    assert ahead.info["evidence"] == in_order.info["evidence"]  # every calibration score, kind and area
    assert ahead.calibration.to_dict() == in_order.calibration.to_dict()
    assert not _alive("build-copies")


def test_a_cancelled_build_leaves_no_thread(inspector):
    from core.errors import Cancelled

    rng = np.random.default_rng(8)
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 6

    with pytest.raises(Cancelled):
        inspector.build_product([make_part(rng, size=160)], name="cancelled", cancel=cancel)
    assert not _alive("build-copies")
