"""How much the automatic threshold moves when only the calibration's random seed changes (docs/benchmarks.md,
"Calibration study"): builds the same product several times and prints each threshold beside the test scores.

    .venv/bin/python tools/calibration_spread.py --data ../shared/datasets --category grid --seed 0 --builds 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evaluation import references_for, test_samples
from core.imageio import load_image
from core.inspector import Inspector


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--category", required=True)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="which references (the few-shot protocol's seed)")
    p.add_argument("--builds", type=int, default=5, help="calibration seeds 0 .. builds-1")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.data)
    inspector = Inspector(device="cpu")
    refs = [load_image(x) for x in references_for(root, args.category, args.shots, args.seed)]
    samples = test_samples(root, args.category)
    frames = [(s.defect != "good", load_image(s.path)) for s in samples]
    bad = np.array([b for b, _ in frames])
    for build in range(args.builds):
        product = inspector.build_product(refs, name=args.category, seed=build)
        # Scores are taken again each time: the learned edge weight, and with it the map, moves a little too.
        scores = np.array([inspector.inspect(f, product).score for _, f in frames])
        print(
            f"good frames score {np.round(np.sort(scores[~bad]), 3).tolist()}; "
            f"defective {np.round(np.sort(scores[bad]), 3).tolist()}"
        )
        c = product.calibration
        acc = float(np.mean((scores > c.threshold) == bad))
        halves = f", halves max {c.stats['split_max']:.3f}" if "split_max" in c.stats else ""
        print(
            f"calibration seed {build}: threshold {c.threshold:.3f} (normal max {c.stats['normal_max']:.3f}{halves}, "
            f"simulated-defect lower quartile {c.stats['anomaly_q25']:.3f}, {c.method}), "
            f"edge weight {c.edge_floor:.2f}, verdict accuracy {acc:.3f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
