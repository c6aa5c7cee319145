"""``evaluate`` on data laid out a little differently from MVTec AD's naming: masks named or stored otherwise, masks
of 0/1 or in colour, and a test image or mask that cannot be read (left out with a message, not a crashed run)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core import evaluation
from core.errors import DatasetError
from core.evaluation import evaluate_category, find_mask, load_mask
from tests.core.synth import make_part, plant_spot, write_category


def _mask(path, shape=(32, 32), box=(8, 20), value=255):
    m = np.zeros(shape, np.uint8)
    m[box[0] : box[1], box[0] : box[1]] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(m).save(path)
    return m > 0


def test_a_mask_is_never_taken_from_another_image_whose_name_starts_the_same(tmp_path):
    gt = tmp_path / "gt"
    _mask(gt / "1_mask.png")
    _mask(gt / "10_mask.png")
    _mask(gt / "11.png")
    assert find_mask(gt, "1") == gt / "1_mask.png"
    assert find_mask(gt, "10") == gt / "10_mask.png"
    assert find_mask(gt, "11") == gt / "11.png"  # NAME.png as well as NAME_mask.png
    assert find_mask(gt, "2") is None
    assert find_mask(tmp_path / "absent", "1") is None


def test_other_mask_names_and_a_folder_of_masks(tmp_path):
    gt = tmp_path / "gt"
    _mask(gt / "007_gt.png")
    assert find_mask(gt, "007") == gt / "007_gt.png"  # the one file NAME_<anything>
    _mask(gt / "008_a.png")
    _mask(gt / "008_b.png")
    assert find_mask(gt, "008") is None  # two candidates: no guess
    a = _mask(gt / "009" / "000.png", box=(0, 8))
    b = _mask(gt / "009" / "001.png", shape=(64, 64), box=(40, 56))  # another size: resized to the first's
    assert find_mask(gt, "009") == gt / "009"
    union = load_mask(gt / "009")
    assert union.shape == (32, 32) and union[a].all() and union[20:28, 20:28].all()
    assert union.sum() == a.sum() + b[::2, ::2].sum()


def test_masks_of_ones_and_of_colour_read_as_masks(tmp_path):
    ones = _mask(tmp_path / "ones.png", value=1)
    assert (load_mask(tmp_path / "ones.png") == ones).all()
    pal = Image.new("P", ones.shape[::-1])
    pal.putdata(ones.astype(np.uint8).reshape(-1).tolist())
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)  # index 1 drawn in green: nothing in the red channel
    pal.save(tmp_path / "palette.png")
    assert (load_mask(tmp_path / "palette.png") == ones).all()


@pytest.fixture()
def odd_category(tmp_path):
    rng = np.random.default_rng(3)
    cat = tmp_path / "disk"
    # test names that are prefixes of one another, masks of 0/1
    write_category(cat, rng, 2, ["1", "2", "10"], lambda i: (55 + 20 * i, 68 + 30 * i), mask_value=1)
    (cat / "test/good/3.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    img, _ = plant_spot(make_part(rng), 90, 90)
    Image.fromarray(img).save(cat / "test/spot/4.png")
    (cat / "ground_truth/spot/4_mask.png").write_bytes(b"")  # an empty mask file
    return tmp_path


def test_each_defective_image_finds_its_own_mask(odd_category):
    samples = {s.path.name: s for s in evaluation.test_samples(odd_category, "disk") if s.defect == "spot"}
    assert samples["1.png"].mask_path.name == "1_mask.png"
    assert samples["10.png"].mask_path.name == "10_mask.png"


def test_unreadable_test_files_are_left_out_with_a_message(inspector, odd_category):
    problems: list[str] = []
    row = evaluate_category(inspector, odd_category, "disk", 1, [0, 1], problems=problems)
    assert row["n_test"] == 6 and row["n_unreadable"] == 2  # 8 files, 2 unreadable: on both seeds alike
    assert len(problems) == 2  # one message per file, not per seed
    assert any("3.png" in m for m in problems) and any("4_mask.png" in m and "empty" in m for m in problems)
    assert row["image_auroc"] == 1.0 and row["pixel_auroc"] > 0.9  # the 0/1 masks count as masks


def test_a_category_with_no_readable_test_image_says_so(inspector, tmp_path):
    cat = tmp_path / "disk"
    (cat / "train/good").mkdir(parents=True)
    (cat / "test/good").mkdir(parents=True)
    Image.fromarray(make_part(np.random.default_rng(0))).save(cat / "train/good/0.png")
    (cat / "test/good/0.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="none of its test images could be read"):
        evaluate_category(inspector, tmp_path, "disk", 1, [0])


def test_the_command_warns_and_records_the_unreadable_files(odd_category, tmp_path):
    from tests.core.test_cli import run_main

    out = tmp_path / "eval.json"
    r = run_main("evaluate", "--data", odd_category, "--shots", "1", "--seeds", "0", "--json", out)
    assert r.returncode == 0, r.stderr
    assert "disk: 2 file(s) could not be read" in r.stderr and "3.png" in r.stderr
    d = json.loads(out.read_text())
    assert len(d["unreadable"]["disk"]) == 2 and d["categories"]["disk"]["n_unreadable"] == 2
