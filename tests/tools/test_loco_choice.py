"""tools/loco_choice.py chooses a setting without the category it is scored on, and names the categories a variant
sinks by more than the tolerance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import loco_choice


def _run(path: Path, auroc: dict[str, float]) -> Path:
    cats = {c: {"image_auroc": v, "pixel_auroc": float("nan") if c == "c" else v} for c, v in auroc.items()}
    path.write_text(json.dumps({"categories": cats, "mean": {}}))
    return path


def test_the_choice_left_out_differs_from_the_in_sample_one(tmp_path, capsys):
    # "sharp" wins on a and b by a lot and loses d badly: in-sample it wins, but without a (or b) it does not
    default = _run(tmp_path / "d.json", {"a": 0.70, "b": 0.70, "c": 0.80, "d": 0.90})
    sharp = _run(tmp_path / "s.json", {"a": 0.95, "b": 0.80, "c": 0.80, "d": 0.70})
    variants = dict(loco_choice.load_variant(s) for s in (f"default={default}", f"sharp={sharp}"))
    assert loco_choice.best_on(variants, ["a", "b", "c", "d"], "image_auroc") == "sharp"  # 0.8125 > 0.775
    loo = {ch.category: ch for ch in loco_choice.leave_one_out(variants, "image_auroc")}
    assert loo["a"].variant == "default" and loo["a"].value == pytest.approx(0.70)  # b, c, d: 0.800 against 0.767
    assert loo["d"].variant == "sharp" and loo["d"].value == pytest.approx(0.70) and loo["d"].default == 0.90
    assert loco_choice.losses(variants, "image_auroc", 0.02) == {"default": [], "sharp": ["d"]}
    out = tmp_path / "loco.json"
    assert loco_choice.main(["--variant", f"default={default}", "--variant", f"sharp={sharp}", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "in-sample choice: sharp" in printed and "sharp lowers d by more than 0.02" in printed
    saved = json.loads(out.read_text())
    assert saved["in_sample"] == "sharp" and len(saved["leave_one_out"]) == 4


def test_a_tie_keeps_the_first_variant_and_missing_metrics_leave_the_category_out(tmp_path):
    default = _run(tmp_path / "d.json", {"a": 0.8, "b": 0.9, "c": 0.7})
    same = _run(tmp_path / "s.json", {"a": 0.8, "b": 0.9, "c": 0.9})
    variants = dict(loco_choice.load_variant(s) for s in (f"default={default}", f"same={same}"))
    assert loco_choice.best_on(variants, ["a", "b"], "image_auroc") == "default"
    assert loco_choice.categories_of(variants, "pixel_auroc") == ["a", "b"]  # c has no pixel figure (like casting)


def test_bad_variant_arguments_say_what_to_write(tmp_path):
    with pytest.raises(SystemExit, match="write NAME=FILE"):
        loco_choice.load_variant("just-a-file.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(SystemExit, match="not an evaluate --json file"):
        loco_choice.load_variant(f"x={tmp_path / 'x.json'}")
