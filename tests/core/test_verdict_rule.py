"""The verdict-rule families that tools/verdict_study.py fits leave-one-category-out place the threshold where their
docstrings say, from a product's calibration evidence."""

from __future__ import annotations

import pytest

from core.verdict_rule import FAMILIES, between, between_all

OVERLAP = {"split": [0.80, 0.86], "jitter": [0.50, 0.55], "simulated": [0.60, 0.70, 0.75, 0.78, 0.95, 1.10]}
APART = {"split": [0.40, 0.42], "jitter": [0.35], "simulated": [0.60, 0.65, 0.70, 0.80]}


def test_between_never_goes_below_the_highest_normal_stand_in_and_between_all_may():
    assert between(OVERLAP, (0.25, 0.25)) > 0.86
    assert between_all(OVERLAP, (0.5, 0.25)) < 0.86  # the simulated defects' lower quartile lies below the halves
    assert between_all(APART, (0.5, 0.25)) > 0.42  # where they lie above, both rules stay above the normals


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_gives_a_positive_threshold_over_its_whole_parameter_grid(name):
    family = FAMILIES[name]
    first = tuple(axis[0] for axis in family.grid)
    last = tuple(axis[-1] for axis in family.grid)
    for params in (first, last):
        for ev in (OVERLAP, APART):
            assert family.threshold(ev, params) > 0.0
