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

from core.evaluation import _eval_size
from core.imageio import load_image
from core.metrics import aupro, pixel_auroc
from tools.peer.subset import lay_out

METRICS = ("image_auroc", "pixel_auroc", "aupro")
OURS_PROTOCOL = {"pixel_auroc": "pixel_auroc_ours", "aupro": "aupro_ours"}  # the peer's maps compared as ours are


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


def peer_pixel(result: dict, layout: Path, maps_prefix: Path, seed: int) -> dict[str, float]:
    """One seed's pixel figures from the saved maps (256x256), two ways: ``aupro`` against the masks resized
    (nearest) to 256x256, the harness's own protocol; ``pixel_auroc_ours`` / ``aupro_ours`` with the map resized to
    the frame's aspect at 256 px on the longer side (area) and the mask resized (nearest) to that size, as
    core/evaluation.py compares the project's maps."""
    npz = np.load(f"{maps_prefix}_patchcore_k1_s{seed}.npz")
    by_id = {m["id"]: m for m in result["test_mapping"]}
    masks, maps, masks_ours, maps_ours = [], [], [], []
    for path, amap in zip(npz["paths"], npz["maps"], strict=True):
        p = Path(str(path))
        kind = "good" if p.parent.name == "test_good" else "defect"
        entry = by_id[f"{kind}/{p.stem}"]
        h, w = amap.shape
        amap = amap.astype(np.float32)
        frame = load_image(layout / entry["file"])
        size = _eval_size(frame.shape[1], frame.shape[0])
        if entry["label"]:
            m = load_image(layout / "ground_truth" / entry["type"] / f"{Path(entry['file']).stem}_mask.png")[..., 0]
        else:
            m = np.zeros(frame.shape[:2], np.uint8)
        masks.append(cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST) > 127)
        maps.append(amap)
        masks_ours.append(cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) > 127)
        maps_ours.append(cv2.resize(amap, size, interpolation=cv2.INTER_AREA))
    return {
        "aupro": aupro(masks, maps),
        "pixel_auroc_ours": pixel_auroc(masks_ours, maps_ours),
        "aupro_ours": aupro(masks_ours, maps_ours),
    }


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
        per = [peer_pixel(result, layout, maps_prefix, r["seed"]) for r in runs]
        for k in per[0]:
            row[k] = float(np.mean([d[k] for d in per]))
        row["per_seed_pixel"] = per
    else:
        row["pixel_auroc"] = row["aupro"] = row["pixel_auroc_ours"] = row["aupro_ours"] = float("nan")
    return row


def fmt(v: object) -> str:
    return "-" if not isinstance(v, float) or np.isnan(v) else f"{v:.3f}"


def table(peer: dict[str, dict], ours: dict | None) -> str:
    """Markdown rows per category and the mean: the peer as its harness scores it, the peer's maps compared the way
    evaluate compares the project's (256 px on the longer side), and the project's figures from ``ours``."""
    cats = sorted(peer)
    rows: list[tuple[str, dict[str, dict]]] = [
        ("PatchCore (harness: 256x256)", {c: {m: peer[c][m] for m in METRICS} for c in cats}),
        ("PatchCore (as ours: 256 px long side)", {c: {m: peer[c][OURS_PROTOCOL.get(m, m)] for m in METRICS} for c in cats}),
    ]  # fmt: skip
    if ours:
        rows.append(
            ("ours", {c: {m: ours["categories"][c][m] for m in METRICS} for c in cats if c in ours["categories"]})
        )
    lines = ["| method | category | test images | image AUROC | pixel AUROC | AUPRO |", "|---|---|---|---|---|---|"]
    for name, figs in rows:
        for c in cats:
            if c in figs:
                cells = " | ".join(fmt(figs[c][m]) for m in METRICS)
                lines.append(f"| {name} | {c} | {peer[c]['n_test']} | {cells} |")
        means = [[figs[c][m] for c in figs if not np.isnan(figs[c][m])] for m in METRICS]
        cells = " | ".join(f"**{fmt(float(np.mean(v)))}**" if v else "-" for v in means)
        lines.append(f"| **{name}** | **mean** | | {cells} |")
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
    ap.add_argument("--rescore", action="store_true", help="recompute the figures from the saved peer runs")
    args = ap.parse_args()
    root, work, out, peer = (
        Path(args.data),
        Path(args.work).resolve(),
        Path(args.out).resolve(),
        Path(args.peer).resolve(),
    )
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
        if args.rescore:  # the peer's saved JSON and maps, scored again (no image through the peer)
            result = json.loads((out / f"peer_{c}.json").read_text())
        else:
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
