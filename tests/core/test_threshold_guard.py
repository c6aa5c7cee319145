"""core/threshold_guard.py: what a threshold move does to the product's recent recorded failures."""

from __future__ import annotations

import pytest

from core.threshold_guard import (
    NO_REGION,
    RecordedFailure,
    assess_threshold_move,
    check_guard_share,
    needs_second_confirmation,
)

FAILURES = [
    RecordedFailure(0.50, ("top left",), "#1"),
    RecordedFailure(0.60, ("top left", "center"), "#2"),
    RecordedFailure(0.90, ("bottom",), "#3"),
    RecordedFailure(0.45, (), "#4"),
    RecordedFailure(1.20, ("center",), "#5"),
]


def test_failures_at_or_below_the_new_threshold_would_pass_counted_by_region():
    move = assess_threshold_move(FAILURES, before=0.44, after=0.60)
    assert (move.failures, move.would_pass) == (5, 3)  # 0.50, 0.60 (not above 0.60) and 0.45
    assert move.would_pass_by_location == {"top left": 2, "center": 1, NO_REGION: 1}
    assert move.would_pass_labels == ("#1", "#2", "#4")
    assert move.share == pytest.approx(0.6)
    assert "3 of the 5 recent recorded failures (60%) would now PASS (top left: 2" in move.summary()


def test_lowering_the_threshold_passes_nothing_and_needs_no_second_person():
    move = assess_threshold_move(FAILURES, before=0.44, after=0.30)
    assert move.would_pass == 0 and not needs_second_confirmation(move, 0.0)
    assert "All 5 recent recorded failures would still fail" in move.summary()


def test_the_share_limit():
    move = assess_threshold_move(FAILURES, before=0.44, after=0.46)  # 1 of 5 = 20 %
    assert needs_second_confirmation(move, 0.1) and needs_second_confirmation(move, 0.0)
    assert not needs_second_confirmation(move, 0.2) and not needs_second_confirmation(move, 1.0)
    empty = assess_threshold_move([], before=0.44, after=5.0)
    assert empty.share == 0.0 and not needs_second_confirmation(empty, 0.0)
    assert "no recorded failures" in empty.summary()


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.2", True, None, float("nan")])
def test_a_share_is_a_number_from_0_to_1(bad):
    with pytest.raises(ValueError):
        check_guard_share(bad)
    assert check_guard_share(0.25) == 0.25 and check_guard_share(0) == 0.0
