"""Would comparing a frame with the reference *at the same place* (after aligning it) rank parts better than the
position-free nearest-patch search? Builds each shared category's 1-reference products (seeds 0-2), scores every
test image the default way and, beside it, with a positional map: the frame aligned to the reference by phase
correlation, each patch compared only with the reference's patches within ``--radius`` cells of the same place.
Prints image AUROC per category for the default score, the positional score and their combinations.

    .venv/bin/python tools/position_study.py --data ../shared/datasets --max-test 150 [--out out/s12/position.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CATEGORIES = ("ball_screw", "casting", "grid", "hazelnut_toy", "magnetic_tile")


def phase_shift(frame: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """(dx, dy, response): the shift that moves the frame onto the reference (grey, same size)."""
    a = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    b = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY).astype(np.float32)
    win = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    (dx, dy), resp = cv2.phaseCorrelate(b, a, win)
    return float(dx), float(dy), float(resp)


def local_distance(grid: torch.Tensor, ref: torch.Tensor, radius: int) -> torch.Tensor:
    """(h, w) distance of each frame patch to the nearest reference patch within ``radius`` cells of its place."""
    h, w, _ = grid.shape
    best = torch.full((h, w), -2.0)
    pad = torch.nn.functional.pad(ref.permute(2, 0, 1), (radius, radius, radius, radius)).permute(1, 2, 0)
    valid = torch.nn.functional.pad(torch.ones(h, w), (radius, radius, radius, radius))
    for oy in range(2 * radius + 1):
        for ox in range(2 * radius + 1):
            sim = (grid * pad[oy : oy + h, ox : ox + w]).sum(-1)
            sim = torch.where(valid[oy : oy + h, ox : ox + w] > 0, sim, torch.tensor(-2.0))
            best = torch.maximum(best, sim)
    return torch.sqrt(torch.clamp(2.0 - 2.0 * best, min=0.0))


def main() -> int:
    from core.decoder import smooth_map
    from core.evaluation import fixed_test_subset, references_for, test_samples
    from core.imageio import load_image
    from core.inspector import Inspector
    from core.memory import patch_features
    from core.metrics import image_auroc
    from core.preprocess import resize_to, working_image

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--max-test", type=int, default=150)
    p.add_argument("--radius", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--categories", nargs="+", default=list(CATEGORIES))
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    inspector = Inspector(device="cpu")
    root = Path(args.data)
    records = []
    for category in args.categories:
        samples = fixed_test_subset(test_samples(root, category), args.max_test)  # evaluate --max-test's subset
        for seed in args.seeds:
            ref_img = load_image(references_for(root, category, 1, seed)[0])
            product = inspector.build_product([ref_img], name=category, seed=seed)
            st = product.settings
            ref_work = working_image(ref_img, st)
            ref_grid = patch_features(inspector.encoder, ref_work)
            rec: dict[str, list[float] | list[bool] | str | int] = {"category": category, "seed": seed}
            cols: dict[str, list[float]] = {"default": [], "pos": [], "pos_aligned": [], "resp": []}
            labels = []
            for s in samples:
                img = load_image(s.path)
                res = inspector.inspect(img, product)
                work = resize_to(img, (ref_work.shape[1], ref_work.shape[0]))
                dx, dy, resp = phase_shift(work, ref_work)
                grid = patch_features(inspector.encoder, work)
                d0 = local_distance(grid, ref_grid, args.radius)
                m = cv2.warpAffine(
                    work,
                    np.float32([[1, 0, -dx], [0, 1, -dy]]),
                    (work.shape[1], work.shape[0]),
                    borderMode=cv2.BORDER_REFLECT,
                )
                d1 = local_distance(patch_features(inspector.encoder, m), ref_grid, args.radius)
                size = (work.shape[1], work.shape[0])
                for key, d in (("pos", d0), ("pos_aligned", d1)):
                    amap = smooth_map(d.numpy(), size, st.blur_sigma)
                    cols[key].append(inspector.finish_map(amap, st, product.calibration.edge_floor)[1])
                cols["default"].append(res.score)
                cols["resp"].append(resp)
                labels.append(s.defect != "good")
            rec.update(cols)
            rec["labels"] = labels
            records.append(rec)
            line = {k: round(image_auroc(labels, v), 3) for k, v in cols.items() if k != "resp"}
            g = np.sqrt(np.asarray(cols["default"]) * np.asarray(cols["pos_aligned"]))
            line["geo"] = round(image_auroc(labels, list(g)), 3)
            print(category, seed, line, "resp median", round(float(np.median(cols["resp"])), 3), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
