"""Study: a learned linear adaptor of the patch features, trained on simulated defects of other categories.

AnomalyGPT's decoder is trained on simulated anomalies of *other* categories and applied to new ones. This study
asks whether the same idea, at this machine's size, helps the station's nearest-patch search: a linear map W of the
152-channel Lite0 patch feature (then renormalised), trained so that a normal part's patches lie near another
normal part's patches of the same product and a simulated defect's patches lie far from them. It is scored
leave-one-category-out: W is fitted on four categories and the fifth is scored with its own 1-shot references
(seeds 0-2), against the identity (the plain features) on the same images.

The study scores with the plain nearest-patch map (references with flips and turns, Gaussian smoothing, the mean
of the top 0.5 % of the map), not the station's full decoder; it measures the adaptor's effect on the ranking.

    collect: python tools/adaptor_study.py collect --data ../shared/datasets --out out/s17/adaptor
    fit:     python tools/adaptor_study.py fit --feats out/s17/adaptor --json out/s17/adaptor.json
    own:     python tools/adaptor_study.py own --feats out/s19/adaptor_auto --weights out/s19/w_auto --steps 100 \
                 [--contamination 0.15] [--parts 10] [--save-dir out/s19/w_own]

``own`` asks what a running line could add: each category's map fitted without it (``fit --save-dir``), then fitted
further on the category's own train parts, unlabelled, as a line's pool of recent good parts would give them, with
an optional share of its real defective parts taken for good among them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.decoder import image_score, smooth_map  # noqa: E402
from core.encoder import Encoder, load_encoder  # noqa: E402
from core.evaluation import fixed_test_subset, list_categories, references_for, test_samples  # noqa: E402
from core.imageio import load_image  # noqa: E402
from core.inspector import DEFAULT_SETTINGS, resolve_settings  # noqa: E402
from core.memory import augment_views, patch_features  # noqa: E402
from core.metrics import image_auroc  # noqa: E402
from core.preprocess import to_working  # noqa: E402
from core.simulation import simulate_anomaly  # noqa: E402

STRIDE = 8


def _feat(encoder: Encoder, image: np.ndarray) -> np.ndarray:
    return patch_features(encoder, image).numpy().astype(np.float16)


def _cell_labels(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """Per feature cell: 1 = defect (at least 30 % covered), 0 = normal (no defect within a cell), -1 = ignored."""
    cover = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    near = cv2.dilate((cover > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    lab = np.where(near, -1, 0).astype(np.int8)
    lab[cover >= 0.3] = 1
    return lab


def _flat(grid: np.ndarray) -> np.ndarray:
    return grid.reshape(-1, grid.shape[-1])


def _put(data: dict[str, np.ndarray], key: str, grids: list[np.ndarray]) -> None:
    """Grids of different sizes, stored flat with their shapes."""
    data[f"{key}_flat"] = np.concatenate([_flat(g) for g in grids])
    data[f"{key}_shapes"] = np.array([g.shape[:2] for g in grids])


def _get(d: np.lib.npyio.NpzFile, key: str) -> list[torch.Tensor]:
    flat = torch.from_numpy(d[f"{key}_flat"].astype(np.float32))
    shapes = [tuple(int(v) for v in s) for s in d[f"{key}_shapes"]]
    parts = torch.split(flat, [h * w for h, w in shapes])
    return [p.reshape(h, w, -1) for p, (h, w) in zip(parts, shapes, strict=True)]


def collect(args: argparse.Namespace) -> None:
    encoder = load_encoder(adaptor=None)  # the adaptor is fitted on the plain features
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.data)
    for cat in args.category or list_categories(root):
        t0 = time.perf_counter()
        rng = np.random.default_rng(7)
        goods = sorted(p for p in (root / cat / "train" / "good").iterdir() if p.is_file())
        refs = [references_for(root, cat, 1, s)[0] for s in (0, 1, 2)]
        res = args.resolution or resolve_settings(None, [load_image(refs[0])]).resolution
        pool = [p for p in goods if p not in refs]
        pool = [pool[i] for i in sorted(rng.choice(len(pool), min(args.train, len(pool)), replace=False))]
        data: dict[str, np.ndarray] = {}
        for s, p in enumerate(refs):
            work = to_working(load_image(p), res)
            data[f"ref{s}"] = np.concatenate([_flat(_feat(encoder, v)) for v in augment_views(work, ("flip", "rot90"))])
        works = [to_working(load_image(p), res) for p in pool]
        normals, anomalies, labels = [], [], []
        for i, work in enumerate(works):
            normals.append(_feat(encoder, work))
            others = [works[j] for j in range(len(works)) if j != i]
            sim = simulate_anomaly(work, rng, others)
            f = _feat(encoder, sim.image)
            anomalies.append(f)
            labels.append(_cell_labels(sim.mask, f.shape[0], f.shape[1]))
        _put(data, "normal", normals)
        _put(data, "anomaly", anomalies)
        data["anomaly_cells"] = np.concatenate([lab.ravel() for lab in labels])
        samples = fixed_test_subset(test_samples(root, cat), args.max_test)
        tests = [_feat(encoder, to_working(load_image(s.path), res)) for s in samples]
        _put(data, "test", tests)
        data["test_labels"] = np.array([s.defect != "good" for s in samples])
        np.savez(out / f"{cat}.npz", **data)
        print(
            f"{cat}: {len(pool)} train parts, {len(samples)} test images at {res} px, {time.perf_counter() - t0:.0f} s",
            flush=True,
        )


class Category:
    def __init__(self, path: Path):
        d = np.load(path)
        self.name = path.stem
        self.refs = [torch.from_numpy(d[f"ref{s}"].astype(np.float32)) for s in (0, 1, 2)]  # (patches, C)
        self.normal = _get(d, "normal")  # (h, w, C) grids
        self.anomaly = _get(d, "anomaly")
        cells = torch.from_numpy(d["anomaly_cells"].astype(np.int64))
        self.cells = [
            c.reshape(a.shape[:2])
            for c, a in zip(
                torch.split(cells, [a.shape[0] * a.shape[1] for a in self.anomaly]), self.anomaly, strict=True
            )
        ]
        self.tests = _get(d, "test")
        self.test_shapes = [t.shape[:2] for t in self.tests]
        self.tests = [t.reshape(-1, t.shape[-1]) for t in self.tests]
        self.labels = [bool(v) for v in d["test_labels"]]


def project(x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    return x if w is None else F.normalize(x @ w, dim=-1)


def nearest(q: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
    """1 - the best cosine of each query row against the bank (both unit rows)."""
    best = torch.full((q.shape[0],), -2.0)
    for i in range(0, bank.shape[0], 8192):
        best = torch.maximum(best, (q @ bank[i : i + 8192].T).amax(dim=1))
    return 1.0 - best


def map_score(dist: torch.Tensor, shape: tuple[int, int]) -> float:
    """The station's image score of one patch-distance grid: smoothed at the working size, top 0.5 % mean."""
    h, w = shape
    amap = smooth_map(dist.reshape(h, w).numpy(), (w * STRIDE, h * STRIDE), DEFAULT_SETTINGS.blur_sigma)
    return image_score(amap, DEFAULT_SETTINGS.top_fraction)


@torch.no_grad()
def score_category(cat: Category, w: torch.Tensor | None) -> list[float]:
    aurocs = []
    for ref in cat.refs:
        bank = project(ref, w)
        scores = [map_score(nearest(project(t, w), bank), s) for t, s in zip(cat.tests, cat.test_shapes, strict=True)]
        aurocs.append(image_auroc(cat.labels, scores))
    return aurocs


FIT_DEFAULTS: dict[str, float] = {"steps": 300, "batch": 8, "lr": 1e-3, "temp": 0.02, "topk": 8, "reg": 1e-3}


def _top_mean(x: torch.Tensor, k: int) -> torch.Tensor:
    return x.topk(min(k, x.numel())).values.mean()


def fit_adaptor(cats: list[Category], args: argparse.Namespace, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    c = cats[0].normal[0].shape[-1]
    dim = args.dim or c
    w0 = torch.eye(c)[:, :dim].clone() if dim <= c else torch.cat([torch.eye(c), torch.zeros(c, dim - c)], 1)
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=args.lr)
    for step in range(args.steps):
        loss = torch.zeros(())
        for _ in range(args.batch):
            cat = cats[int(torch.randint(len(cats), (1,), generator=g))]
            n = len(cat.normal)
            r, q = torch.randperm(n, generator=g)[:2].tolist()
            bank_views = [cat.normal[r]]
            if args.aug:
                bank_views += [cat.normal[r].flip(1), cat.normal[r].flip(0)]
            bank = project(torch.cat([b.reshape(-1, c) for b in bank_views]), w)
            dn = nearest(project(cat.normal[q].reshape(-1, c), w), bank)
            da = nearest(project(cat.anomaly[q].reshape(-1, c), w), bank)
            lab = cat.cells[q].reshape(-1)
            if not (lab == 1).any():
                continue
            s_a = _top_mean(da[lab == 1], args.topk)
            loss = loss + F.softplus((_top_mean(dn, args.topk) - s_a) / args.temp)
            if args.patch_weight > 0:  # normal patches of the anomalous frame stay near the memory as well
                loss = loss + args.patch_weight * F.softplus((_top_mean(da[lab == 0], args.topk) - s_a) / args.temp)
        loss = loss / args.batch + args.reg * ((w - w0) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if args.verbose and step % 50 == 0:
            print(f"  step {step}: loss {loss.item():.4f}", flush=True)
    return w.detach()


def fit(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    cats = [Category(p) for p in sorted(Path(args.feats).glob("*.npz"))]
    report: dict[str, dict[str, list[float]]] = {}
    t0 = time.perf_counter()
    plain = {c.name: score_category(c, None) for c in cats}
    print(f"plain scored in {time.perf_counter() - t0:.0f} s", flush=True)
    save = Path(args.save_dir) if args.save_dir else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    full = None
    if not args.only:  # --only: just those folds (each fold's fit is seeded, so the same as in a full run)
        full = fit_adaptor(cats, args)
        if save:
            np.save(save / "all.npy", full.numpy())
    for held in cats:
        if args.only and held.name not in args.only:
            continue
        t0 = time.perf_counter()
        w = fit_adaptor([c for c in cats if c is not held], args)
        if save:
            np.save(save / f"without_{held.name}.npy", w.numpy())
        loo = score_category(held, w)
        ins = score_category(held, full) if full is not None else [float("nan")]
        report[held.name] = {"plain": plain[held.name], "loo": loo, "in_sample": ins}
        print(
            f"{held.name:14s} plain {np.mean(plain[held.name]):.3f}  left out {np.mean(loo):.3f}  "
            f"in-sample {np.mean(ins):.3f}  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    for key in ("plain", "loo", "in_sample"):
        print(f"mean {key:10s} {np.mean([np.mean(r[key]) for r in report.values()]):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "categories": report}, indent=1))


def fine_tune(cat: Category, w0: torch.Tensor, extra: list[torch.Tensor], args: argparse.Namespace) -> torch.Tensor:
    """``w0`` fitted further on one product's own parts, none labelled: its train parts (with their simulated
    defects) and ``extra`` grids taken for good parts as well (real defective parts that reached the line's pool),
    kept near ``w0`` by the same penalty as a fit from the identity."""
    g = torch.Generator().manual_seed(0)
    c = w0.shape[0]
    pool = list(cat.normal) + extra
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=args.lr)
    for _ in range(args.steps):
        loss = torch.zeros(())
        for _ in range(args.batch):
            r, q2 = torch.randperm(len(pool), generator=g)[:2].tolist()
            q = int(torch.randint(len(cat.normal), (1,), generator=g))
            if q == r:
                continue
            bank = project(pool[r].reshape(-1, c), w)
            dn = nearest(project(pool[q2].reshape(-1, c), w), bank)
            da = nearest(project(cat.anomaly[q].reshape(-1, c), w), bank)
            lab = cat.cells[q].reshape(-1)
            if not (lab == 1).any():
                continue
            loss = loss + F.softplus((_top_mean(dn, args.topk) - _top_mean(da[lab == 1], args.topk)) / args.temp)
        loss = loss / args.batch + args.reg * ((w - w0) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach()


def own(args: argparse.Namespace) -> None:
    """Each product's adaptor fitted without it (what a new product meets), then fitted further on the product's own
    unlabelled parts, as a line would give them: its train parts, with a share of its real defective parts among
    them (taken from its test images and left out of the scoring, for every variant alike)."""
    torch.set_num_threads(args.threads)
    report: dict[str, dict[str, float]] = {}
    for path in sorted(Path(args.feats).glob("*.npz")):
        cat = Category(path)
        if args.parts:
            cat.normal, cat.anomaly, cat.cells = (
                cat.normal[: args.parts],
                cat.anomaly[: args.parts],
                cat.cells[: args.parts],
            )
        w0 = torch.from_numpy(np.load(Path(args.weights) / f"without_{cat.name}.npy"))
        bad = [i for i, lab in enumerate(cat.labels) if lab]
        share = args.contamination
        n_dirty = min(round(share * len(cat.normal) / (1.0 - share)), len(bad) // 2)
        dirty = {int(i) for i in np.random.default_rng(0).choice(bad, n_dirty, replace=False)} if n_dirty else set()
        keep = [i for i in range(len(cat.labels)) if i not in dirty]
        extra = [cat.tests[i].reshape(*cat.test_shapes[i], -1) for i in sorted(dirty)]
        t0 = time.perf_counter()
        w = fine_tune(cat, w0, extra, args)
        took = time.perf_counter() - t0
        if args.save_dir:
            Path(args.save_dir).mkdir(parents=True, exist_ok=True)
            np.save(Path(args.save_dir) / f"own_{cat.name}.npy", w.numpy())
        cat.tests = [cat.tests[i] for i in keep]
        cat.test_shapes = [cat.test_shapes[i] for i in keep]
        cat.labels = [cat.labels[i] for i in keep]
        row = {k: float(np.mean(score_category(cat, v))) for k, v in (("plain", None), ("loo", w0), ("own", w))}
        report[cat.name] = {**row, "dirty": len(dirty), "pool": len(cat.normal) + len(dirty), "fit_s": took}
        print(
            f"{cat.name:14s} plain {row['plain']:.3f}  left out {row['loo']:.3f}  + own parts {row['own']:.3f}  "
            f"({len(dirty)} defective among {len(cat.normal) + len(dirty)} pooled parts; fit {took:.0f} s)",
            flush=True,
        )
    for key in ("plain", "loo", "own"):
        print(f"mean {key:6s} {np.mean([r[key] for r in report.values()]):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "categories": report}, indent=1))


def ship(args: argparse.Namespace) -> None:
    """The adaptor fitted on every category, with its manifest: how it was made and what it scored left out."""
    report = json.loads(Path(args.report).read_text())
    weight = np.load(args.weights).astype(np.float32)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / f"{args.encoder}.npy", weight)
    cats = report["categories"]
    manifest = {
        "encoder": args.encoder,
        "shape": list(weight.shape),
        "trained_on": sorted(cats),
        "made_by": "tools/adaptor_study.py collect --data ../shared/datasets --out DIR; fit --feats DIR --save-dir W",
        "fit": {k: v for k, v in report["args"].items() if k not in ("feats", "json", "save_dir", "cmd", "verbose")},
        "study_image_auroc": {
            c: {k: round(float(np.mean(v)), 3) for k, v in r.items()} for c, r in sorted(cats.items())
        },
        "note": "study figures: the plain nearest-patch map, 1 reference, seeds 0-2; 'loo' = fitted without that "
        "category. The station's own figures are in docs/benchmarks.md, 'A learned feature adaptor'.",
    }
    (out / f"{args.encoder}.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out / args.encoder}.npy and .json")


def _fit_options(parser: argparse.ArgumentParser) -> None:
    """The optimiser's options, shared by ``fit`` and ``own`` (defaults: FIT_DEFAULTS)."""
    for name, value in FIT_DEFAULTS.items():
        parser.add_argument(f"--{name}", type=type(value), default=value)
    parser.add_argument("--threads", type=int, default=2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--data", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--category", action="append")
    c.add_argument("--train", type=int, default=40)
    c.add_argument("--resolution", type=int, default=0, help="working size; 0 = the station's choice per category")
    c.add_argument("--max-test", type=int, default=150)
    f = sub.add_parser("fit")
    f.add_argument("--feats", required=True)
    f.add_argument("--json")
    f.add_argument("--save-dir", help="keep each fold's adaptor (without_<category>.npy) and the all-category one")
    f.add_argument("--dim", type=int, default=0)
    f.add_argument("--only", action="append", help="fit only the fold that leaves this category out (repeat)")
    _fit_options(f)
    f.add_argument("--patch-weight", type=float, default=0.0)
    f.add_argument("--aug", action="store_true")
    f.add_argument("--verbose", action="store_true")
    o = sub.add_parser("own")
    o.add_argument("--feats", required=True)
    o.add_argument("--weights", required=True, help="the fit's --save-dir (without_<category>.npy)")
    o.add_argument("--contamination", type=float, default=0.0, help="share of real defective parts in the pool")
    o.add_argument("--json")
    o.add_argument("--save-dir", help="keep each product's adaptor (own_<category>.npy)")
    o.add_argument("--parts", type=int, default=0, help="use only this many of the product's train parts (0 = all)")
    _fit_options(o)
    s = sub.add_parser("ship")
    s.add_argument("--report", required=True, help="the fit's --json")
    s.add_argument("--weights", required=True, help="the fit's all.npy")
    s.add_argument("--out", default=str(ROOT / "resources" / "adaptor"))
    s.add_argument("--encoder", default="efficientnet-lite0")
    args = p.parse_args()
    {"collect": collect, "fit": fit, "own": own, "ship": ship}[args.cmd](args)


if __name__ == "__main__":
    main()
