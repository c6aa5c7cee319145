"""Replay two working sizes' image scores, each put on its own product's calibrated scale, and combine them.

Takes two `main.py evaluate --dump` files of the same products at two working sizes (same seeds, same test subsets).
For each product a score s is placed on the product's own calibrated coordinate u = (log s - log n) / (log a - log
n), with n the highest normal stand-in and a the median simulated defect of that product's calibration (0 at the
highest normal, 1 at the median simulated defect: the coordinate the shipped threshold rule lives on). It prints the
image AUROC per category of each size alone, of the larger u of the two ("max": a defect seen at either size), of
their mean, and of the plain geometric mean of the raw scores.

    .venv/bin/python tools/scale_ensemble_study.py out/s16/k1_r384_dump.json out/s16/k1_r256_dump.json
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.metrics import image_auroc
from tools.dump_pairs import paired_runs

WAYS = ("first", "second", "max", "mean", "geometric")


def calibrated(run: dict[str, Any]) -> np.ndarray:
    cal = run["calibration"]
    normal = math.log(cal["normal_max"])
    span = max(math.log(cal["anomaly_median"]) - normal, 1e-3)
    return np.array([(math.log(max(s, 1e-9)) - normal) / span for s in run["scores"]])


def combine(first: dict[str, Any], second: dict[str, Any]) -> dict[str, float]:
    labels = [bool(v) for v in first["labels"]]
    u1, u2 = calibrated(first), calibrated(second)
    geometric = np.log(np.maximum(first["scores"], 1e-9)) + np.log(np.maximum(second["scores"], 1e-9))
    ways = {
        "first": np.asarray(first["scores"]),
        "second": np.asarray(second["scores"]),
        "max": np.maximum(u1, u2),
        "mean": (u1 + u2) / 2,
        "geometric": geometric,
    }
    return {name: image_auroc(labels, [float(v) for v in values]) for name, values in ways.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("first", type=Path, help="evaluate --dump at one working size")
    ap.add_argument("second", type=Path, help="evaluate --dump of the same products at another size")
    args = ap.parse_args(argv)
    per_category: dict[str, list[dict[str, float]]] = {}
    for first, second in paired_runs(args.first, args.second):
        per_category.setdefault(first["category"], []).append(combine(first, second))
    print("image AUROC".ljust(16) + "".join(w.rjust(11) for w in WAYS))
    means: dict[str, list[float]] = {w: [] for w in WAYS}
    for category, rows in per_category.items():
        values = {w: float(np.mean([r[w] for r in rows])) for w in WAYS}
        for w in WAYS:
            means[w].append(values[w])
        print(category.ljust(16) + "".join(f"{values[w]:11.3f}" for w in WAYS))
    print("mean".ljust(16) + "".join(f"{float(np.mean(means[w])):11.3f}" for w in WAYS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
