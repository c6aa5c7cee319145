"""`evaluate --max-test` takes the same fixed subset everywhere: core/evaluation.py `fixed_test_subset`."""

from __future__ import annotations

from pathlib import Path

from core.evaluation import Sample, fixed_test_subset


def _samples(n: int) -> list[Sample]:
    return [Sample(Path(f"{i:03d}.png"), "good" if i % 3 else "crack", None) for i in range(n)]


def test_the_subset_is_fixed_in_order_and_no_larger_than_asked():
    samples = _samples(40)
    first, again = fixed_test_subset(samples, 10), fixed_test_subset(list(samples), 10)
    assert first == again and len(first) == 10
    assert [s.path for s in first] == sorted(s.path for s in first)  # the test set's own order
    assert {s.path for s in first} <= {s.path for s in samples}


def test_no_limit_or_a_limit_above_the_set_keeps_every_image():
    samples = _samples(5)
    assert fixed_test_subset(samples, None) == samples
    assert fixed_test_subset(samples, 0) == samples
    assert fixed_test_subset(samples, 5) == samples
