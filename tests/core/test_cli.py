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
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


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
    keys = {"image_auroc", "pixel_auroc", "aupro", "verdict_accuracy", "verdict_f1", "ms_per_image_p50", "ms_per_image_p95"}
    assert d["shots"] == 1 and d["seeds"] == [0, 1]
    assert keys <= set(d["categories"]["disk"]) and keys <= set(d["mean"])
    assert d["categories"]["disk"]["image_auroc"] == 1.0
    assert d["categories"]["disk"]["pixel_auroc"] > 0.9
    assert "baseline" in d and "ours" in r.stdout and "baseline" in r.stdout


def test_evaluate_takes_several_categories_after_one_flag_or_repeated():
    from core.cli.evaluate_cmd import build_parser

    args = build_parser().parse_args(["--data", "x", "--category", "grid", "magnetic_tile", "--category", "hazelnut"])
    assert args.category == ["grid", "magnetic_tile", "hazelnut"]
    assert build_parser().parse_args(["--data", "x"]).category == []
