"""The build's warning where a product's calibration sees few of its simulated defects."""

from __future__ import annotations

import pytest

from core.calibration import fit_calibration
from core.calibration_warning import MIN_DETECTABLE, calibration_warning


def test_a_calibration_whose_simulated_defects_stand_out_gives_no_warning():
    cal = fit_calibration([0.4, 0.45, 0.5], [0.9, 1.0, 1.1, 1.2], normals_are_real=True)
    assert cal.stats["detectable"] == 1.0
    assert calibration_warning(cal.to_dict()) is None


def test_one_whose_references_vary_more_than_its_defects_warns_with_the_share_and_what_to_do():
    # leave-one-out normals up to 0.9, simulated defects mostly below: 1 of 5 above the highest normal
    cal = fit_calibration([0.5, 0.7, 0.9], [0.6, 0.7, 0.8, 0.85, 1.2], normals_are_real=True)
    assert cal.stats["detectable"] < MIN_DETECTABLE
    text = calibration_warning(cal.to_dict(), "impeller")
    assert text is not None and text.startswith("impeller: only 20%")
    assert "same place and light" in text


def test_a_calibration_saved_without_the_figure_gives_none():
    assert calibration_warning({"threshold": 0.5}) is None
    assert calibration_warning({"stats": {}}) is None


def test_several_references_never_get_a_threshold_above_their_median_simulated_defect():
    import math

    import numpy as np

    # leave-one-out normals up to 0.9 (references that differ), most simulated defects below that
    anomalies = [0.6, 0.7, 0.8, 0.85, 1.2]
    cal = fit_calibration([0.5, 0.7, 0.9], anomalies, normals_are_real=True)
    assert cal.method == "loo+jitter+simulated"
    assert cal.threshold == pytest.approx(math.exp(float(np.median(np.log(anomalies)))))
    assert sum(a > cal.threshold for a in anomalies) >= len(anomalies) // 2  # at least half of them fail
    # where the simulated defects stand out, the cap does not bite: a quarter of the way up, as before
    clear = fit_calibration([0.4, 0.45, 0.5], [0.9, 1.0, 1.1, 1.2], normals_are_real=True)
    assert 0.5 < clear.threshold < 0.9


def test_a_several_reference_calibration_of_rule_5_is_rebuilt():
    from core.calibration import Calibration

    cal = fit_calibration([0.5, 0.7, 0.9], [0.6, 0.7, 0.8, 0.85, 1.2], normals_are_real=True)
    assert cal.current
    assert not Calibration.from_dict(dict(cal.to_dict(), rule=5)).current
