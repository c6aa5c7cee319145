"""tools/own_parts_stream.py on a tiny generated line: parts are taken by line mode's admission rule, the adaptor is
fitted further on them once enough are taken, and the later test parts are scored by both products."""

from __future__ import annotations

import argparse
import os

import numpy as np

from core.adaptor import ADAPTOR_ENV
from core.encoder import load_encoder
from tests.core.synth import write_category
from tools.own_parts_stream import run_category


def test_the_switch_happens_after_the_taken_parts_and_both_products_score_what_follows(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    names = [f"{i:03d}" for i in range(8)]
    write_category(tmp_path / "data" / "disk", rng, 14, names, lambda i: (60 + 10 * i, 80 + 8 * i), mask_value=None)
    weights = tmp_path / "w"
    weights.mkdir()
    np.save(weights / "without_disk.npy", np.eye(152, dtype=np.float32))
    monkeypatch.setenv(ADAPTOR_ENV, "none")
    plain = load_encoder()
    args = argparse.Namespace(weights=str(weights), seeds=[0], line_good=13, max_test=None, after=3, steps=2, threads=1)
    out = run_category(args, tmp_path / "data", "disk", plain, tmp_path)
    (row,) = out["seeds"]
    assert row["taken"] == 3 and row["switch_at_part"] is not None
    assert 0 < row["test_after"] < 16  # only the test parts after the switch
    assert row["taken_defective"] <= row["taken"]
    for key in ("auroc_loo_after", "auroc_own_after"):  # the planted spots rank first with either product
        assert row[key] != row[key] or row[key] >= 0.9, key
    assert (tmp_path / "own_disk_0.npy").is_file()
    assert os.environ[ADAPTOR_ENV].endswith("own_disk_0.npy")  # the adapted product's encoder read its own map
