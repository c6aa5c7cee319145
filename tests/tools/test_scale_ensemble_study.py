"""tools/scale_ensemble_study.py puts each size's scores on its product's calibrated scale before combining them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tools import scale_ensemble_study
from tools.dump_pairs import paired_runs


def _dump(path: Path, scores: list[float], normal_max: float, anomaly_median: float) -> Path:
    run = {
        "category": "a",
        "seed": 0,
        "scores": scores,
        "labels": [False, False, True, True],
        "calibration": {"normal_max": normal_max, "anomaly_median": anomaly_median},
    }
    path.write_text(json.dumps({"runs": {"ours": [run]}}))
    return path


def test_the_calibrated_coordinate_is_zero_at_the_highest_normal_and_one_at_the_median_defect():
    run = {"scores": [0.5, 1.0, 2.0], "calibration": {"normal_max": 0.5, "anomaly_median": 2.0}}
    assert scale_ensemble_study.calibrated(run) == pytest.approx([0.0, 0.5, 1.0])


def test_max_catches_a_defect_seen_at_either_size(tmp_path, capsys):
    # the first size sees defect 3 only, the second defect 4 only; on its own scale each ranks one defect first
    first = _dump(tmp_path / "a.json", [0.50, 0.52, 0.80, 0.51], 0.55, 0.80)
    second = _dump(tmp_path / "b.json", [5.0, 5.1, 5.05, 9.0], 5.2, 9.0)
    [(run1, run2)] = paired_runs(first, second)
    figures = scale_ensemble_study.combine(run1, run2)
    assert figures["first"] == pytest.approx(0.75) and figures["second"] == pytest.approx(0.75)
    assert figures["max"] == pytest.approx(1.0)
    assert math.isfinite(figures["geometric"])
    assert scale_ensemble_study.main([str(first), str(second)]) == 0
    assert "mean" in capsys.readouterr().out
