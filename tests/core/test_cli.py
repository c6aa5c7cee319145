"""The headless commands: a JSON answer on success, one clear line and a non-zero exit on bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.core.synth import make_part, plant_spot

ROOT = Path(__file__).resolve().parents[2]


def run_main(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(11)
    ref = d / "ref.png"
    Image.fromarray(make_part(rng)).save(ref)
    bad = d / "bad.png"
    Image.fromarray(plant_spot(make_part(rng), 60, 160)[0]).save(bad)
    corrupt = d / "corrupt.png"
    corrupt.write_bytes(ref.read_bytes()[:300])
    empty = d / "empty.png"
    empty.write_bytes(b"")
    return {"dir": d, "ref": ref, "bad": bad, "corrupt": corrupt, "empty": empty}


def test_inspect_json_and_heatmap(images):
    heat = images["dir"] / "heat.png"
    r = run_main("inspect", "--ref", images["ref"], images["bad"], "--json", "--heatmap", heat)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["verdict"] == "FAIL" and 0.5 < d["probability"] <= 1
    assert set(d) >= {"verdict", "probability", "score", "regions", "timings_ms"}
    assert d["warning"] is None  # one clean reference: its simulated defects stand out (core/calibration_warning.py)
    assert d["regions"][0]["location"] == "bottom left"
    x0, y0, x1, y1 = d["regions"][0]["bbox"]
    assert x0 <= 60 < x1 and y0 <= 160 < y1
    assert Image.open(heat).size == (224, 224)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("inspect", "{bad}"), "at least one --ref"),
        (("inspect", "--ref", "{corrupt}", "{bad}"), "corrupt.png"),
        (("inspect", "--ref", "{ref}", "{empty}"), "empty"),
        (("inspect", "--ref", "{ref}", "{dir}/missing.png"), "not found"),
        (("inspect", "--ref", "{ref}", "{bad}", "--heatmap", "{dir}/no/such/dir/h.png"), "does not exist"),
        (("evaluate", "--data", "{dir}/nowhere", "--shots", "1"), "not found"),
        (("evaluate", "--data", "{dir}", "--set", "sharpness=2"), "--set sharpness=2"),
        (("evaluate", "--data", "{dir}", "--set", "top_fraction=lots"), "not a valid float"),
    ],
)
def test_error_paths(images, args, fragment):
    r = run_main(*[a.format(**images) for a in args])
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and fragment in lines[0], r.stderr


def test_evaluate_on_generated_dataset(tmp_path):
    rng = np.random.default_rng(5)
    cat = tmp_path / "disk"
    for sub in ("train/good", "test/good", "test/spot", "ground_truth/spot"):
        (cat / sub).mkdir(parents=True)
    for i in range(3):
        Image.fromarray(make_part(rng)).save(cat / f"train/good/{i:03d}.png")
        Image.fromarray(make_part(rng)).save(cat / f"test/good/{i:03d}.png")
        img, mask = plant_spot(make_part(rng), 50 + 50 * i, 60 + 40 * i)
        Image.fromarray(img).save(cat / f"test/spot/{i:03d}.png")
        Image.fromarray(mask.astype(np.uint8) * 255).save(cat / f"ground_truth/spot/{i:03d}_mask.png")
    out = tmp_path / "eval.json"
    r = run_main("evaluate", "--data", tmp_path, "--shots", "1", "--seeds", "0", "1", "--json", out, "--baseline")
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    keys = {
        "image_auroc",
        "pixel_auroc",
        "aupro",
        "verdict_accuracy",
        "verdict_f1",
        "ms_per_image_p50",
        "ms_per_image_p95",
    }
    assert d["shots"] == 1 and d["seeds"] == [0, 1]
    assert keys <= set(d["categories"]["disk"]) and keys <= set(d["mean"])
    assert d["categories"]["disk"]["image_auroc"] == 1.0
    assert d["categories"]["disk"]["pixel_auroc"] > 0.9
    assert "baseline" in d and "ours" in r.stdout and "baseline" in r.stdout


def test_evaluate_stream_new_keys_dump_and_a_label_only_category(tmp_path):
    """Line mode on a tiny generated category, the verdict keys a quality engineer reads, the dump for the verdict
    study, and a category with image labels only (no ground_truth/): pixel metrics left out, not a failure."""
    rng = np.random.default_rng(6)
    for name, masks in (("disk", True), ("labels_only", False)):
        cat = tmp_path / name
        for sub in ("train/good", "test/good", "test/spot") + (("ground_truth/spot",) if masks else ()):
            (cat / sub).mkdir(parents=True)
        Image.fromarray(make_part(rng)).save(cat / "train/good/000.png")
        for i in range(6):
            Image.fromarray(make_part(rng)).save(cat / f"test/good/{i:03d}.png")
        for i in range(3):
            img, mask = plant_spot(make_part(rng), 50 + 50 * i, 60 + 40 * i)
            Image.fromarray(img).save(cat / f"test/spot/{i:03d}.png")
            if masks:
                Image.fromarray(mask.astype(np.uint8) * 255).save(cat / f"ground_truth/spot/{i:03d}_mask.png")
    out, dump = tmp_path / "eval.json", tmp_path / "dump.json"
    r = run_main(
        "evaluate", "--data", tmp_path, "--shots", "1", "--seeds", "0", "--stream", "--json", out, "--dump", dump
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    new = {"verdict_balanced_accuracy", "escape_rate", "false_reject_rate"}
    assert d["stream"] is True and "line mode" in r.stdout
    for c in ("disk", "labels_only"):
        row = d["categories"][c]
        assert new <= set(row) and row["image_auroc"] == 1.0
        assert 0.0 <= row["escape_rate"] <= 1.0 and 0.0 <= row["false_reject_rate"] <= 1.0
        assert row["verdict_balanced_accuracy"] == pytest.approx(
            1 - (row["escape_rate"] + row["false_reject_rate"]) / 2
        )
    assert d["categories"]["disk"]["pixel_auroc"] > 0.9
    assert d["categories"]["labels_only"]["pixel_auroc"] != d["categories"]["labels_only"]["pixel_auroc"]  # NaN
    assert d["mean"]["pixel_auroc"] == pytest.approx(d["categories"]["disk"]["pixel_auroc"])
    runs = json.loads(dump.read_text())["runs"]["ours"]
    assert {r["category"] for r in runs} == {"disk", "labels_only"}
    assert all(len(r["scores"]) == 9 and r["stream"] and r["evidence"]["split"] for r in runs)
    # the verdict study replays the dump leave-one-category-out
    study = subprocess.run(
        [sys.executable, str(ROOT / "tools/verdict_study.py"), str(dump), "--family", "between"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert study.returncode == 0, study.stderr
    assert "leave-one-out" in study.stdout and "labels_only" in study.stdout


def test_evaluate_takes_several_categories_after_one_flag_or_repeated():
    from core.cli.evaluate_cmd import build_parser

    args = build_parser().parse_args(["--data", "x", "--category", "grid", "magnetic_tile", "--category", "hazelnut"])
    assert args.category == ["grid", "magnetic_tile", "hazelnut"]
    assert build_parser().parse_args(["--data", "x"]).category == []
