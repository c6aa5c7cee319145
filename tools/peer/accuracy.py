"""anomalib's PatchCore on exactly the test images ``main.py evaluate`` scores, beside the project's own figures.

The peer runs in its own virtual environment outside the repository (../shared/peer/SETUP.md; PEER_DIR, e.g.
/work/peer, holds venv/, run_peer.py and the converted lite0 weights). This tool never imports anomalib: it lays out
the project's test subset (tools/peer/subset.py), runs the peer's harness on it as a subprocess, computes AUPRO on
the peer's saved maps with the project's own ``core.metrics.aupro`` (the harness gives image and pixel AUROC only),
and prints a table beside an ``evaluate --json`` file of the project's.

    .venv/bin/python tools/peer/accuracy.py --peer /work/peer --data ../shared/datasets --max-test 150 \
        --seeds 0 1 2 --work /tmp/peer_data --out out/peer --ours out/k1_auto.json

Long: run it under ``nice -n 19``. The peer's pixel figures compare its 256x256 map with the mask resized (nearest)
to 256x256, the harness's protocol; the project's compare its map and mask at 256 px on the longer side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.imageio import load_image
from core.metrics import aupro
from tools.peer.subset import lay_out

METRICS = ("image_auroc", "pixel_auroc", "aupro")


def run_peer(peer: Path, data: Path, category: str, seeds: list[int], threads: int, out: Path, pixel: bool) -> dict:
    """One run_peer.py call (PatchCore, k=1) on the laid-out category; its JSON."""
    res = out / f"peer_{category}.json"
    cmd = [
        str(peer / "venv" / "bin" / "python"),
        str(peer / "run_peer.py"),
        "--data", str(data),
        "--category", category,
        "--k", "1",
        "--seeds", *map(str, seeds),
        "--threads", str(threads),
        "--out", str(res),
        "--save-maps", str(out / "maps" / category),
    ]  # fmt: skip
    if not pixel:
        cmd.append("--no-pixel")
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=peer, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(res.read_text())


def peer_aupro(result: dict, layout: Path, maps_prefix: Path, seed: int) -> float:
    """AUPRO of one seed's saved maps (256x256) against the masks resized (nearest) to 256x256."""
    npz = np.load(f"{maps_prefix}_patchcore_k1_s{seed}.npz")
    by_id = {m["id"]: m for m in result["test_mapping"]}
    masks, maps = [], []
    for path, amap in zip(npz["paths"], npz["maps"], strict=True):
        p = Path(str(path))
        kind = "good" if p.parent.name == "test_good" else "defect"
        entry = by_id[f"{kind}/{p.stem}"]
        h, w = amap.shape
        if entry["label"]:
            stem = Path(entry["file"]).stem
            m = load_image(layout / "ground_truth" / entry["type"] / f"{stem}_mask.png")[..., 0]
            masks.append(cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) > 127)
        else:
            masks.append(np.zeros((h, w), bool))
        maps.append(amap.astype(np.float32))
    return aupro(masks, maps)


def summarise(result: dict, layout: Path, maps_prefix: Path, pixel: bool) -> dict:
    runs = [r for r in result["runs"] if "error" not in r]
    if len(runs) != len(result["runs"]):
        raise SystemExit(f"{result['category']}: a peer run failed: {result['runs']}")
    row: dict[str, object] = {
        "n_test": runs[0]["n_test"],
        "n_defect": runs[0]["n_test_defect"],
        "image_auroc": float(np.mean([r["image_AUROC"] for r in runs])),
        "sk_image_auroc": float(np.mean([r["sk_image_AUROC"] for r in runs])),
        "fit_s": [r["fit_s"] for r in runs],
        "memory_bank": runs[0]["memory_bank"],
        "per_seed_image_auroc": [r["image_AUROC"] for r in runs],
    }
    if pixel:
        row["pixel_auroc"] = float(np.mean([r["pixel_AUROC"] for r in runs]))
        per = [peer_aupro(result, layout, maps_prefix, r["seed"]) for r in runs]
        row["aupro"] = float(np.mean(per))
        row["per_seed_aupro"] = per
    else:
        row["pixel_auroc"] = row["aupro"] = float("nan")
    return row


def fmt(v: object) -> str:
    return "-" if not isinstance(v, float) or np.isnan(v) else f"{v:.3f}"


def table(peer: dict[str, dict], ours: dict | None) -> str:
    lines = ["| category | test images | " + " | ".join(f"{m} peer / ours" for m in METRICS) + " |"]
    lines.append("|---" * (2 + len(METRICS)) + "|")
    cats = sorted(peer)
    for c in cats:
        o = ours["categories"].get(c, {}) if ours else {}
        cells = [f"{fmt(peer[c][m])} / {fmt(o.get(m, float('nan')))}" for m in METRICS]
        lines.append(f"| {c} | {peer[c]['n_test']} | " + " | ".join(cells) + " |")
    means = []
    for m in METRICS:
        pv = [peer[c][m] for c in cats if not np.isnan(peer[c][m])]
        ov = [ours["categories"][c][m] for c in cats if ours and c in ours["categories"]]
        ov = [v for v in ov if not np.isnan(v)]
        means.append(f"{fmt(float(np.mean(pv)))} / {fmt(float(np.mean(ov)) if ov else float('nan'))}")
    lines.append("| mean | | " + " | ".join(means) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", required=True, help="PEER_DIR: venv/, run_peer.py, the converted weights")
    ap.add_argument("--data", required=True)
    ap.add_argument("--category", action="append", default=[])
    ap.add_argument("--max-test", type=int, default=150, help="the same as evaluate's --max-test")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1, help="the peer's torch threads")
    ap.add_argument("--work", default="/tmp/peer_data", help="where the subset's symlinks go (not the repository)")
    ap.add_argument("--out", default="out/peer")
    ap.add_argument("--ours", default=None, help="an evaluate --json file of the project's, for the table")
    args = ap.parse_args()
    root, work, out, peer = Path(args.data), Path(args.work).resolve(), Path(args.out).resolve(), Path(args.peer).resolve()
    repo = Path(__file__).resolve().parents[2]
    if work == repo or repo in work.parents:
        raise SystemExit(f"{work}: inside the repository; lay the peer's data out under /tmp")
    (out / "maps").mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    cats = args.category or ["ball_screw", "casting", "grid", "hazelnut_toy", "magnetic_tile"]
    summary_path = out / "peer_accuracy.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for c in cats:
        manifest = lay_out(root, c, args.max_test, work)
        pixel = bool(manifest["pixel_masks"])
        result = run_peer(peer, work, c, args.seeds, args.threads, out, pixel)
        summary[c] = summarise(result, work / c, out / "maps" / c, pixel)
        summary[c]["subset"] = {k: manifest[k] for k in ("max_test", "n_test", "all_test_images")}
        summary_path.write_text(json.dumps(summary, indent=1))
        print(c, json.dumps({m: summary[c][m] for m in METRICS}), flush=True)
    ours = json.loads(Path(args.ours).read_text()) if args.ours else None
    print(table(summary, ours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
