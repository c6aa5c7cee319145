"""A learned verdict ("judge"), studied leave-one-category-out: does a small model over map statistics, each
normalised by the product's own calibration evidence, give a better PASS / FAIL than the shipped threshold rule?

    collect:  .venv/bin/python tools/judge_study.py collect --data ../shared/datasets --seeds 0 1 2 --max-test 150 \\
                  --out out/judge_features.json
    replay:   .venv/bin/python tools/judge_study.py replay out/judge_features.json [--json out/judge_study.json]

``collect`` builds each category's product from 1 reference per seed, as ``main.py evaluate`` does (the same
references, the same fixed subset of test images), inspects every test image and keeps, per image, the shipped
verdict and the features below (no label is used to make them). ``replay`` fits a class-balanced logistic
regression on four categories' images and judges the fifth's with p > 0.5, for each in turn, and prints its
balanced accuracy, escape and false-reject rates next to the shipped rule's on the same images.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EPS = 1e-6
FEATURES = (
    "over_threshold",  # log(score / threshold)
    "over_normal_max",  # log(score / the highest normal stand-in)
    "normal_z",  # (log score - median log normal) / spread of log normal
    "over_simulated_median",  # log(score / median simulated defect)
    "peak",  # log(max of map / score): how much higher the single highest pixel is
    "area_over_threshold",  # log10 of the share of map pixels above the threshold
    "top_tenth",  # log(mean of the top 0.1 % of the map / score)
)


def features(amap: np.ndarray, score: float, threshold: float, evidence: dict) -> list[float]:
    normal = [float(v) for k in ("held_out", "loo", "jitter", "split") for v in evidence.get(k, [])]
    simulated = [float(v) for v in evidence.get("simulated", [])]
    log_normal = np.log(np.maximum(normal, EPS))
    spread = float(np.median(np.abs(log_normal - np.median(log_normal)))) * 1.4826 + 0.02
    flat = amap.reshape(-1).astype(np.float64)
    k = max(1, round(flat.size * 0.001))
    top_tenth = float(np.partition(flat, flat.size - k)[flat.size - k :].mean())
    s = max(score, EPS)
    return [
        math.log(s / max(threshold, EPS)),
        math.log(s / max(max(normal), EPS)),
        (math.log(s) - float(np.median(log_normal))) / spread,
        math.log(s / max(float(np.median(simulated)), EPS)),
        math.log(max(float(flat.max()), EPS) / s),
        math.log10(float((flat > threshold).mean()) + 1e-5),
        math.log(max(top_tenth, EPS) / s),
    ]


def collect(args: argparse.Namespace) -> int:
    from core.evaluation import fixed_test_subset, list_categories, references_for, test_samples
    from core.imageio import load_image
    from core.inspector import Inspector, resolve_settings

    root = Path(args.data)
    inspector = Inspector(device="cpu")
    rows: list[dict] = []
    products: list[dict] = []
    for category in args.category or list_categories(root):
        samples = fixed_test_subset(test_samples(root, category), args.max_test)  # evaluate --max-test's subset
        for seed in args.seeds:
            refs = [load_image(p) for p in references_for(root, category, 1, seed)]
            product = inspector.build_product(refs, name=category, settings=resolve_settings(None, []), seed=seed)
            evidence = product.info.get("evidence", {})
            threshold = float(product.calibration.threshold)
            for s in samples:
                res = inspector.inspect(load_image(s.path), product)
                rows.append(
                    {
                        "category": category,
                        "seed": int(seed),
                        "label": s.defect != "good",
                        "shipped": res.verdict == "FAIL",
                        "score": float(res.score),
                        "threshold": threshold,
                        "x": [round(v, 6) for v in features(res.anomaly_map, float(res.score), threshold, evidence)],
                        "map_max": float(res.anomaly_map.max()),
                    }
                )
            products.append({"category": category, "seed": int(seed), "threshold": threshold, "evidence": evidence})
            print(category, seed, len(rows), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"features": FEATURES, "rows": rows, "products": products}))
    return 0


def rates(labels: np.ndarray, preds: np.ndarray) -> dict[str, float]:
    bad, good = labels, ~labels
    escape = float((~preds[bad]).mean()) if bad.any() else float("nan")
    false_reject = float(preds[good].mean()) if good.any() else float("nan")
    return {"balanced": 1.0 - (escape + false_reject) / 2.0, "escape": escape, "false_reject": false_reject}


def per_product(rows: list[dict], preds: np.ndarray) -> dict[str, float]:
    """Rates per (category, seed), averaged over the seeds (how evaluate reports them)."""
    out: list[dict[str, float]] = []
    keys = sorted({(r["seed"]) for r in rows})
    labels = np.array([r["label"] for r in rows])
    seeds = np.array([r["seed"] for r in rows])
    for seed in keys:
        m = seeds == seed
        out.append(rates(labels[m], preds[m]))
    return {k: float(np.mean([o[k] for o in out])) for k in out[0]}


def fit(x: np.ndarray, y: np.ndarray, columns: list[int], c: float):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    return model.fit(x[:, columns], y)


def replay(args: argparse.Namespace) -> int:
    data = json.loads(Path(args.features).read_text())
    rows = data["rows"]
    names = list(data["features"])
    cats = sorted({r["category"] for r in rows})
    x_all = np.array([r["x"] for r in rows], dtype=np.float64)
    y_all = np.array([r["label"] for r in rows])
    cat_of = np.array([r["category"] for r in rows])
    sets = {
        "score vs threshold (a learned offset)": [0],
        "score vs normals and simulated": [0, 1, 2, 3],
        "all features": list(range(len(names))),
        "map shape only + threshold": [0, 4, 5, 6],
    }
    report: dict = {"features": names, "sets": {}}
    shipped = {
        c: per_product(
            [r for r in rows if r["category"] == c], np.array([r["shipped"] for r in rows if r["category"] == c])
        )
        for c in cats
    }
    report["shipped"] = shipped
    print(
        "shipped rule:",
        {c: round(v["balanced"], 3) for c, v in shipped.items()},
        "mean",
        round(float(np.mean([v["balanced"] for v in shipped.values()])), 3),
    )
    for name, columns in sets.items():
        for c_reg in (0.1, 1.0):
            loco: dict[str, dict[str, float]] = {}
            for c in cats:
                train = cat_of != c
                # each category weighs the same in the fit, whatever its number of images
                model = fit(x_all[train], y_all[train], columns, c_reg)
                test_rows = [r for r in rows if r["category"] == c]
                preds = model.predict_proba(x_all[cat_of == c][:, columns])[:, 1] > 0.5
                loco[c] = per_product(test_rows, preds)
            model = fit(x_all, y_all, columns, c_reg)
            ins = {
                c: per_product(
                    [r for r in rows if r["category"] == c],
                    model.predict_proba(x_all[cat_of == c][:, columns])[:, 1] > 0.5,
                )
                for c in cats
            }
            key = f"{name}, C={c_reg}"
            report["sets"][key] = {
                "columns": [names[i] for i in columns],
                "loco": loco,
                "in_sample": ins,
                "coef": model.coef_.tolist(),
                "intercept": model.intercept_.tolist(),
            }
            print(
                f"{key:55s} LOCO",
                {c: round(v["balanced"], 3) for c, v in loco.items()},
                "mean",
                round(float(np.mean([v["balanced"] for v in loco.values()])), 3),
                "| in-sample mean",
                round(float(np.mean([v["balanced"] for v in ins.values()])), 3),
                "| LOCO escape",
                round(float(np.mean([v["escape"] for v in loco.values()])), 3),
                "false rej.",
                round(float(np.mean([v["false_reject"] for v in loco.values()])), 3),
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--data", required=True)
    c.add_argument("--category", action="append", default=[])
    c.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    c.add_argument("--max-test", type=int, default=150)
    c.add_argument("--out", required=True)
    r = sub.add_parser("replay")
    r.add_argument("features")
    r.add_argument("--json", default=None)
    args = p.parse_args()
    return collect(args) if args.command == "collect" else replay(args)


if __name__ == "__main__":
    sys.exit(main())
