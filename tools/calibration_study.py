"""How the automatic threshold rule was chosen (docs/benchmarks.md, "Calibration study").

For each category and seed (1 reference), scores disturbed copies of the reference with and without a simulated
defect at three disturbance strengths, plus a sample of real test images; then sweeps the threshold rule's weight
and anomaly quantile and prints the verdict accuracy each would give.

    .venv/bin/python tools/calibration_study.py --data ../shared/datasets --out out/calstudy.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.calibration import edge_floor_from_maps  # noqa: E402
from core.evaluation import references_for, test_samples  # noqa: E402
from core.imageio import load_image  # noqa: E402
from core.inspector import DEFAULT_SETTINGS, Inspector, resolve_settings  # noqa: E402
from core.jitter import jitter  # noqa: E402
from core.memory import build_bank  # noqa: E402
from core.simulation import simulate_anomaly  # noqa: E402


def collect(root: Path, cats: list[str], seeds: list[int], n_test: int) -> dict:
    ins = Inspector(device="cpu")
    out = {}
    for cat in cats:
        for seed in seeds:
            refs = [load_image(p) for p in references_for(root, cat, 1, seed)]
            st = resolve_settings(DEFAULT_SETTINGS, refs)
            bank = build_bank(ins.encoder, refs, st).features
            rng = np.random.default_rng(seed)
            rec: dict[str, list[float]] = {}
            floor = 1.0
            for s in (0.3, 0.6, 1.0):
                n, a = [], []
                for _ in range(12):
                    base = jitter(refs[0], rng, strength=s)
                    n.append(ins._map(base, bank, st)[0])
                    a.append(ins._map(simulate_anomaly(base, rng, others=refs).image, bank, st)[0])
                if s == 0.3:  # the strength the inspector calibrates with decides the edge weight, as it does there
                    floor = edge_floor_from_maps(n, st.edge_band)
                rec[f"n{s}"] = [ins._finish(m, st, floor)[1] for m in n]
                rec[f"a{s}"] = [ins._finish(m, st, floor)[1] for m in a]
            samples = test_samples(root, cat)
            if len(samples) > n_test:
                samples = [samples[i] for i in np.random.default_rng(0).choice(len(samples), n_test, replace=False)]
            rec["good"] = [ins._score(load_image(x.path), bank, st, floor)[1] for x in samples if x.defect == "good"]
            rec["bad"] = [ins._score(load_image(x.path), bank, st, floor)[1] for x in samples if x.defect != "good"]
            out[f"{cat}/{seed}"] = rec
            print(cat, seed, "collected", flush=True)
    return out


def sweep(data: dict) -> None:
    for s in ("0.3", "0.6", "1.0"):
        for w in (0.6, 0.7, 0.8, 0.9, 1.0):
            for qa in (0.25, 0.5):
                accs = []
                for r in data.values():
                    n, a = np.log(r["n" + s]), np.log(r["a" + s])
                    nh = n.max()
                    t = np.exp(nh + w * (max(np.quantile(a, qa), nh + 0.05) - nh))
                    g, b = np.array(r["good"]), np.array(r["bad"])
                    accs.append(((g <= t).sum() + (b > t).sum()) / (len(g) + len(b)))
                print(f"strength {s} weight {w} anomaly-quantile {qa}: " + " ".join(f"{x:.2f}" for x in accs)
                      + f"  mean {np.mean(accs):.3f}")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", default="out/calstudy.json")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--n-test", type=int, default=50)
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    if out.exists():
        data = json.loads(out.read_text())
    else:
        data = collect(Path(args.data), ["hazelnut_toy", "grid", "magnetic_tile"], args.seeds, args.n_test)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data))
    sweep(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
