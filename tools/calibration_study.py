"""How the 1-reference threshold rule was chosen (docs/benchmarks.md, "Calibration study").

For each category and reference seed (1 reference) it repeats the inspector's self-calibration with several
calibration seeds (build 0 is the draw the evaluation itself makes), keeping every score: disturbed copies of the
reference, simulated defects (twice as many as the inspector draws, so the effect of more can be seen), the four
held-out halves of the reference, and every test image, scored with each build's edge weight. Then it sweeps the
threshold rule and prints the verdict accuracy each variant gives: for the evaluation's own draw, the mean over
the builds, and the spread (standard deviation) over builds.

    .venv/bin/python tools/calibration_study.py --data ../shared/datasets --out out/calstudy_split.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.calibration import edge_floor_from_maps
from core.evaluation import references_for, test_samples
from core.imageio import load_image
from core.inspector import (
    CALIBRATION_JITTER,
    DEFAULT_SETTINGS,
    N_JITTER_NORMALS,
    N_SIMULATED,
    Inspector,
    resolve_settings,
)
from core.jitter import jitter
from core.memory import build_bank
from core.simulation import simulate_anomaly
from core.split_normals import held_out_score, split_half_maps


def collect(root: Path, cats: list[str], seeds: list[int], builds: int) -> dict:
    ins = Inspector(device="cpu")
    out = {}
    for cat in cats:
        samples = test_samples(root, cat)
        for seed in seeds:
            refs = [load_image(p) for p in references_for(root, cat, 1, seed)]
            st = resolve_settings(DEFAULT_SETTINGS, refs)
            bank = build_bank(ins.encoder, refs, st).features
            test_maps = [ins.raw_map(load_image(s.path), bank, st)[0] for s in samples]
            halves = split_half_maps(ins.encoder, refs[0], st)
            recs = []
            for b in range(builds):
                rng = np.random.default_rng(seed if b == 0 else 100 + b)  # build 0: the evaluation's own draw
                normal, anomalous = [], []
                for j in range(2 * N_SIMULATED):
                    base = jitter(refs[0], rng, strength=CALIBRATION_JITTER)
                    if j < N_JITTER_NORMALS:
                        normal.append(ins.raw_map(base, bank, st)[0])
                    anomalous.append(ins.raw_map(simulate_anomaly(base, rng, others=refs).image, bank, st)[0])
                floor = edge_floor_from_maps(normal, st.edge_band)
                recs.append(
                    {
                        "edge_floor": floor,
                        "normal": [ins.finish_map(m, st, floor)[1] for m in normal],
                        "anomalous": [ins.finish_map(m, st, floor)[1] for m in anomalous],
                        "halves": [held_out_score(m, st, floor) for m in halves],
                        "test": [ins.finish_map(m, st, floor)[1] for m in test_maps],
                    }
                )
                print(cat, seed, "build", b, flush=True)
            out[f"{cat}/{seed}"] = {"defective": [s.defect != "good" for s in samples], "builds": recs}
    return out


def threshold(rec: dict, weight: float, quantile: float, halves: bool, detectable: bool, n_sim: int) -> float:
    """The rule of core.calibration.fit_calibration, with its choices open."""
    n = np.log(np.asarray(rec["normal"] + (rec["halves"] if halves else [])))
    a = np.log(np.asarray(rec["anomalous"][:n_sim]))
    hi = float(n.max())
    if detectable:
        above = a[a > hi]
        a = above if above.size >= 3 else np.sort(a)[-3:]
    lo = max(float(np.quantile(a, quantile)), hi + 0.05)
    return float(np.exp(hi + weight * (lo - hi)))


def sweep(data: dict) -> list[dict]:
    rows = []
    variants = [("before: disturbed copies only", dict(halves=False, detectable=False), [0.9], [0.25])]
    variants += [("halves", dict(halves=True, detectable=False), [0.1, 0.25, 0.4, 0.5], [0.1, 0.25, 0.5])]
    variants += [
        ("halves, detectable defects", dict(halves=True, detectable=True), [0.1, 0.25, 0.4, 0.5], [0.1, 0.25, 0.5])
    ]
    for name, opts, weights, quantiles in variants:
        for n_sim in (N_SIMULATED, 2 * N_SIMULATED):
            for w in weights:
                for q in quantiles:
                    per_cat: dict[str, list[list[float]]] = {}
                    for key, cell in data.items():
                        bad = np.asarray(cell["defective"])
                        accs = [
                            float(np.mean((np.asarray(r["test"]) > threshold(r, w, q, n_sim=n_sim, **opts)) == bad))
                            for r in cell["builds"]
                        ]
                        per_cat.setdefault(key.split("/")[0], []).append(accs)
                    cats = {
                        c: (float(np.mean([a[0] for a in v])), float(np.mean(v)), float(np.mean(np.std(v, axis=1))))
                        for c, v in per_cat.items()
                    }
                    rows.append(
                        {
                            "rule": name,
                            "weight": w,
                            "quantile": q,
                            "simulated": n_sim,
                            "categories": cats,
                            "mean_own_draw": float(np.mean([v[0] for v in cats.values()])),
                            "mean_over_builds": float(np.mean([v[1] for v in cats.values()])),
                        }
                    )
                    print(
                        f"{name:30s} n={n_sim} w={w:<4} q={q:<4} "
                        + " ".join(f"{c[:4]} {v[0]:.3f}/{v[1]:.3f}±{v[2]:.3f}" for c, v in cats.items())
                        + f" | mean {rows[-1]['mean_own_draw']:.3f}/{rows[-1]['mean_over_builds']:.3f}",
                        flush=True,
                    )
    return rows


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--category", nargs="*", default=["grid", "hazelnut_toy", "magnetic_tile"])
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--builds", type=int, default=6, help="calibration draws per reference (build 0 = evaluation's)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True, help="JSON with every score and the sweep")
    p.add_argument("--reuse", action="store_true", help="sweep the scores already in --out")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.reuse:
        data = json.loads(out.read_text())["scores"]
    else:
        data = collect(Path(args.data), args.category, args.seeds, args.builds)
    rows = sweep(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"scores": data, "sweep": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
