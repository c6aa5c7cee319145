"""``evaluate --stream --line-good N``: further good parts run on the line among the test images, the station
learns from them, and the figures cover the test images alone."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import DatasetError
from core.evaluation import evaluate_category, line_goods, references_for
from tests.core.synth import write_category


@pytest.fixture(scope="module")
def category(tmp_path_factory):
    root = tmp_path_factory.mktemp("line_good")
    rng = np.random.default_rng(11)
    names = [f"{i:03d}" for i in range(3)]
    write_category(root / "disk", rng, 6, names, lambda i: (60 + 40 * i, 70 + 30 * i), mask_value=None)
    return root


def test_the_further_good_parts_are_never_the_references_and_follow_the_seed(category):
    for seed in (0, 1):
        refs = set(references_for(category, "disk", 1, seed))
        goods = line_goods(category, "disk", 1, seed, 3)
        assert len(goods) == 3 and not refs & {g.path for g in goods}
        assert all(g.defect == "good" and g.mask_path is None for g in goods)
        assert [g.path for g in goods] == [g.path for g in line_goods(category, "disk", 1, seed, 3)]
    assert len(line_goods(category, "disk", 1, 0, 100)) == 5  # no more than train/good holds besides the reference
    assert line_goods(category, "disk", 1, 0, 0) == []


def test_the_figures_cover_the_test_images_and_the_line_saw_more(inspector, category):
    records: list[dict[str, object]] = []
    seen = []
    row = evaluate_category(
        inspector, category, "disk", 1, [0], stream=True, line_good=5, records=records, on_image=lambda: seen.append(1)
    )
    assert row["n_test"] == 6 and len(seen) == 6  # progress counts the test images
    assert row["n_line_good"] == 5
    (rec,) = records
    assert len(rec["scores"]) == 6 and sum(rec["labels"]) == 3  # the five further good parts are not scored
    assert row["image_auroc"] == 1.0


def test_line_good_needs_the_stream(tmp_path):
    from core.cli.evaluate_cmd import _run, build_parser

    args = build_parser().parse_args(["--data", str(tmp_path), "--line-good", "10"])
    with pytest.raises(DatasetError, match="--stream"):
        _run(args)


def test_the_stream_fits_the_products_own_map_on_the_parts_it_took(inspector, category, monkeypatch):
    import core.line_pool as line_pool

    monkeypatch.setattr(line_pool, "ADAPT_AFTER", 3)
    monkeypatch.setattr(line_pool, "MIN_ADMIT", 2)
    monkeypatch.setattr(line_pool, "ADMIT_QUANTILE", 1.0)  # every passing part is taken: the test needs three
    records: list[dict[str, object]] = []
    row = evaluate_category(inspector, category, "disk", 1, [0], stream=True, line_good=5, records=records)
    assert row["adapted_seeds"] == 1.0 and 3 < row["adapted_at_part"] <= 11 and row["adapt_s"] > 0
    assert records[0]["adapted_at_part"] == row["adapted_at_part"]
    assert records[0]["taken_defective"] == row["taken_defective"] and 0 <= row["taken_defective"] <= 3
    assert row["n_test"] == 6 and row["image_auroc"] == 1.0  # the planted defects still rank above the good parts
    off = evaluate_category(inspector, category, "disk", 1, [0], stream=True, line_good=5, adapt=False)
    assert "adapted_at_part" not in off
