"""Image AUROC of the nearest-patch distance against local reconstructions of a frame's patches from their k
nearest memory patches (docs/benchmarks.md, "Reconstructing a patch from its nearest memory patches").

For each category and seed the default product is built from the seed's reference; each test image's features and
self-similarity distances are computed once and scored with every variant: the plain nearest distance ("knn"), the
ridge reconstruction of core.decoder.reconstruction_distance for each k and ridge asked for ("k8_l10"), and with
``--convex`` the distance to the convex hull of the k nearest patches ("cvx8": weights >= 0 summing to 1, so no
extrapolation; accelerated projected gradient). The edge weighting is the default product's; the threshold is not
involved (the full `evaluate --set reconstruct=K` run gives the verdict).

    .venv/bin/python tools/reconstruction_study.py --data ../shared/datasets --max-test 150 \\
        --k 4 8 16 --ridge 0.03 0.1 0.3 --json out/s13/llr_screen.json
    .venv/bin/python tools/reconstruction_study.py --replay out/s13/llr_screen.json \\
        --full k8_l10=out/s13/k1_reconstruct8.json

``--replay`` prints each variant's mean image AUROC per category and the leave-one-category-out choice: the
variant with the best mean over four categories, scored on the fifth (``--full NAME=EVALUATE_JSON`` adds a full
`evaluate` run's per-category image AUROC as a variant).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.decoder import nearest_distance, reconstruction_distance, self_distance, smooth_map
from core.evaluation import fixed_test_subset, list_categories, references_for, test_samples
from core.imageio import load_image
from core.inspector import Inspector
from core.memory import patch_features
from core.preprocess import working_image


def _simplex(v: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row onto the probability simplex."""
    u, _ = torch.sort(v, dim=1, descending=True)
    css = u.cumsum(1) - 1
    ind = torch.arange(1, v.shape[1] + 1, dtype=v.dtype)
    rho = ((u - css / ind) > 0).to(torch.int64).cumsum(1).argmax(1, keepdim=True)
    return torch.clamp(v - css.gather(1, rho) / (rho + 1).to(v.dtype), min=0)


def convex_distance(query: torch.Tensor, bank: torch.Tensor, k: int, iters: int = 40) -> torch.Tensor:
    out = torch.empty(query.shape[0])
    for s in range(0, query.shape[0], 512):
        q = query[s : s + 512]
        nb = bank[(q @ bank.T).topk(k, dim=1).indices]
        g = nb @ nb.transpose(1, 2)
        b = (nb @ q[:, :, None]).squeeze(2)
        step = g.diagonal(dim1=1, dim2=2).sum(1, keepdim=True)  # >= the largest eigenvalue
        w = torch.zeros_like(b)
        w[:, 0] = 1
        z, t = w.clone(), 1.0
        for _ in range(iters):
            wn = _simplex(z - ((g @ z[:, :, None]).squeeze(2) - b) / step)
            tn = (1 + (1 + 4 * t * t) ** 0.5) / 2
            z, w, t = wn + (t - 1) / tn * (wn - w), wn, tn
        out[s : s + 512] = (q - (w[:, None, :] @ nb).squeeze(1)).norm(dim=1)
    return out


def replay(files: list[str], full: list[str]) -> int:
    per: dict[str, dict[str, list[float]]] = {}
    for f in files:
        for key, row in json.loads(Path(f).read_text()).items():
            cat = key.split("/")[0]
            for name, auroc in row.items():
                per.setdefault(name, {}).setdefault(cat, []).append(auroc)
    means = {v: {c: float(np.mean(x)) for c, x in d.items()} for v, d in per.items()}
    for spec in full:
        name, _, path = spec.partition("=")
        rows = json.loads(Path(path).read_text())["categories"]
        means[name] = {c: float(r["image_auroc"]) for c, r in rows.items()}
    cats = sorted(means["knn"])
    complete = {v: m for v, m in means.items() if all(c in m for c in cats)}
    print("variant".ljust(12), *(c[:13].rjust(13) for c in cats))
    for v, m in means.items():
        print(v.ljust(12), *((f"{m[c]:.3f}" if c in m else "-").rjust(13) for c in cats))
    chosen = []
    for c in cats:
        fit = [x for x in cats if x != c]
        best = max(complete, key=lambda v: sum(complete[v][x] for x in fit))
        chosen.append(complete[best][c])
        print(f"left out {c}: chosen {best}, {complete[best][c]:.3f} (nearest patch {means['knn'][c]:.3f})")
    plain = float(np.mean([means["knn"][c] for c in cats]))
    print(f"leave-one-out mean {np.mean(chosen):.3f}, nearest patch {plain:.3f} (variants on all: {sorted(complete)})")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replay", nargs="+", metavar="JSON", help="summarise earlier runs' JSON instead of scoring")
    p.add_argument("--full", action="append", default=[], metavar="NAME=EVALUATE_JSON")
    p.add_argument("--data")
    p.add_argument("--category", action="append", default=[])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-test", type=int, default=150)
    p.add_argument("--k", type=int, nargs="*", default=[8])
    p.add_argument("--ridge", type=float, nargs="*", default=[10.0])
    p.add_argument("--convex", action="store_true", help="also the convex-hull distance for each --k")
    p.add_argument("--json")
    args = p.parse_args()
    if args.replay:
        return replay(args.replay, args.full)
    if not args.data or not args.json:
        p.error("--data and --json are needed to score (or --replay JSON ...)")
    root = Path(args.data)
    variants: list[tuple[str, int, float | None]] = [("knn", 1, None)]
    variants += [(f"k{k}_l{r:g}", k, r) for k in args.k for r in args.ridge]
    variants += [(f"cvx{k}", k, None) for k in (args.k if args.convex else [])]
    inspector = Inspector(device="cpu")
    results: dict[str, dict[str, float]] = {}
    for cat in args.category or list_categories(root):
        samples = fixed_test_subset(test_samples(root, cat), args.max_test)  # evaluate --max-test's subset
        labels = np.array([s.defect != "good" for s in samples])
        for seed in args.seeds:
            product = inspector.build_product([load_image(r) for r in references_for(root, cat, 1, seed)], name=cat)
            st, bank = product.settings, product.bank.features
            scores: dict[str, list[float]] = {v[0]: [] for v in variants}
            for sample in samples:
                work = working_image(load_image(sample.path), st)
                grid = patch_features(inspector.encoder, work)
                h, w, c = grid.shape
                q = grid.reshape(-1, c)
                own = self_distance(grid, max(2, round(st.self_radius * max(h, w)))).reshape(-1)
                for name, k, ridge in variants:
                    if k == 1:
                        d = nearest_distance(q, bank)
                    elif ridge is None:
                        d = convex_distance(q, bank, k)
                    else:
                        d = reconstruction_distance(q, bank, k, ridge=ridge)
                    d = torch.minimum(d, own) if st.self_similarity else d
                    amap = smooth_map(d.reshape(h, w).numpy(), (work.shape[1], work.shape[0]), st.blur_sigma)
                    scores[name].append(inspector.finish_map(amap, st, product.calibration.edge_floor)[1])
            results[f"{cat}/{seed}"] = {k: float(roc_auc_score(labels, v)) for k, v in scores.items()}
            print(cat, seed, {k: round(v, 3) for k, v in results[f"{cat}/{seed}"].items()}, flush=True)
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
