"""tools/dump_pairs.py pairs two evaluate dumps product by product and refuses dumps that do not match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.dump_pairs import paired_runs


def _dump(path: Path, runs: list[tuple[str, int, list[bool]]]) -> Path:
    payload = [{"category": c, "seed": s, "labels": y, "scores": [0.5] * len(y)} for c, s, y in runs]
    path.write_text(json.dumps({"runs": {"ours": payload}}))
    return path


def test_runs_are_paired_by_product_in_the_first_files_order(tmp_path):
    first = _dump(tmp_path / "a.json", [("b", 0, [True]), ("a", 1, [False, True])])
    second = _dump(tmp_path / "b.json", [("a", 1, [False, True]), ("b", 0, [True])])
    pairs = paired_runs(first, second)
    assert [(r["category"], o["category"], r["seed"]) for r, o in pairs] == [("b", "b", 0), ("a", "a", 1)]


def test_dumps_that_do_not_match_say_why(tmp_path):
    first = _dump(tmp_path / "a.json", [("a", 0, [False, True])])
    with pytest.raises(SystemExit, match="different products"):
        paired_runs(first, _dump(tmp_path / "b.json", [("a", 1, [False, True])]))
    with pytest.raises(SystemExit, match="different test images"):
        paired_runs(first, _dump(tmp_path / "c.json", [("a", 0, [True, False])]))
    (tmp_path / "d.json").write_text("{not json")
    with pytest.raises(SystemExit, match="not an evaluate --dump file"):
        paired_runs(first, tmp_path / "d.json")
