"""Study: the adaptor fitted further on a product's own parts, causally, on a line (docs/benchmarks.md, "A product's
own good parts teach the adaptor").

The station's line mode sees each category's test images and up to ``--line-good`` further good parts in the seeded
random order of ``evaluate --stream --line-good``. Every part is scored by the product built with the adaptor fitted
without its category (``tools/adaptor_study.py fit --save-dir``). A part is taken as one of the line's good parts by
line mode's own admission rule (passed, and in the lowest ``ADMIT_QUANTILE`` of the recent scores; no label); once
``--after`` parts are taken, the adaptor is fitted further on them (``tools/adaptor_study.py fine_tune``, their
simulated defects made as the study makes them), the product is rebuilt with it, and every later part is scored by
both products. Printed per category: how many defective parts the rule let in, and the image AUROC of the test images
after the switch with either product. Ranking only: the verdict of an adapted product is not studied here.

    python tools/own_parts_stream.py --data ../shared/datasets --weights out/s19/w_auto --seeds 0 1 2 \\
        --line-good 300 --after 24 --steps 30 [--category casting] [--json out/s19/own_stream.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.adaptor import ADAPTOR_ENV  # noqa: E402
from core.encoder import load_encoder  # noqa: E402
from core.evaluation import fixed_test_subset, line_goods, list_categories, references_for, test_samples  # noqa: E402
from core.imageio import load_image  # noqa: E402
from core.inspector import Inspector  # noqa: E402
from core.line_pool import ADMIT_QUANTILE, MIN_ADMIT, STREAM_WINDOW  # noqa: E402
from core.memory import patch_features  # noqa: E402
from core.metrics import image_auroc  # noqa: E402
from core.preprocess import to_working  # noqa: E402
from core.simulation import simulate_anomaly  # noqa: E402
from tools.adaptor_study import FIT_DEFAULTS, _cell_labels, fine_tune  # noqa: E402


def _inspector(adaptor: Path, threads: int) -> Inspector:
    os.environ[ADAPTOR_ENV] = str(adaptor)
    return Inspector(load_encoder(), threads=threads)


def _own_parts(plain, works: list[np.ndarray], rng: np.random.Generator) -> SimpleNamespace:
    """The taken parts as the study's Category holds them: plain feature grids, their simulated defects, cells."""
    normal, anomaly, cells = [], [], []
    for i, work in enumerate(works):
        normal.append(patch_features(plain, work))
        sim = simulate_anomaly(work, rng, [w for j, w in enumerate(works) if j != i])
        f = patch_features(plain, sim.image)
        anomaly.append(f)
        cells.append(torch.from_numpy(_cell_labels(sim.mask, f.shape[0], f.shape[1]).astype(np.int64)))
    return SimpleNamespace(normal=normal, anomaly=anomaly, cells=cells)


def run_category(args: argparse.Namespace, root: Path, cat: str, plain, tmp: Path) -> dict[str, object]:
    loo_path = Path(args.weights) / f"without_{cat}.npy"
    loo = _inspector(loo_path, args.threads)
    samples = fixed_test_subset(test_samples(root, cat), args.max_test)
    rows = []
    for seed in args.seeds:
        refs = [load_image(p) for p in references_for(root, cat, 1, seed)]
        product = loo.build_product(refs, name=cat, seed=seed)
        res = product.settings.resolution
        line = samples + line_goods(root, cat, 1, seed, args.line_good)
        order = [line[i] for i in np.random.default_rng(1000 + int(seed)).permutation(len(line))]
        test_ids = {id(s) for s in samples}
        recent: list[float] = []
        taken: list[int] = []
        adapted = None
        after: list[tuple[bool, float, float]] = []  # (defective, LOO score, adapted score), test images only
        t_fit = 0.0
        for n, s in enumerate(order):
            img = load_image(s.path)
            r = loo.inspect(img, product)
            if adapted is not None and id(s) in test_ids:
                after.append((s.defect != "good", r.score, adapted[0].inspect(img, adapted[1]).score))
            if adapted is None:
                window = np.asarray(recent[-STREAM_WINDOW:])
                if (
                    r.verdict == "PASS"
                    and window.size >= MIN_ADMIT
                    and r.score <= float(np.quantile(window, ADMIT_QUANTILE))
                ):
                    taken.append(n)
                recent.append(r.score)
                if len(taken) >= args.after:
                    t0 = time.perf_counter()
                    works = [to_working(load_image(order[i].path), res) for i in taken]
                    own = _own_parts(plain, works, np.random.default_rng(7))
                    w0 = torch.from_numpy(np.load(loo_path))
                    fit_args = SimpleNamespace(**{**FIT_DEFAULTS, "steps": args.steps})
                    w = fine_tune(own, w0, [], fit_args)  # type: ignore[arg-type]
                    path = tmp / f"own_{cat}_{seed}.npy"
                    np.save(path, w.numpy())
                    inspector = _inspector(path, args.threads)
                    adapted = (inspector, inspector.build_product(refs, name=cat, seed=seed))
                    t_fit = time.perf_counter() - t0
        labels = [a[0] for a in after]
        row = {
            "seed": seed,
            "taken": len(taken),
            "taken_defective": sum(order[i].defect != "good" for i in taken),
            "switch_at_part": (taken[-1] + 1) if len(taken) >= args.after else None,
            "test_after": len(after),
            "auroc_loo_after": image_auroc(labels, [a[1] for a in after]),
            "auroc_own_after": image_auroc(labels, [a[2] for a in after]),
            "fit_and_rebuild_s": round(t_fit, 1),
        }
        print(f"  {cat} seed {seed}: {row}", flush=True)
        rows.append(row)
    return {
        "seeds": rows,
        "auroc_loo_after": float(np.nanmean([r["auroc_loo_after"] for r in rows])),
        "auroc_own_after": float(np.nanmean([r["auroc_own_after"] for r in rows])),
        "taken_defective_share": float(sum(r["taken_defective"] for r in rows) / max(1, sum(r["taken"] for r in rows))),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--weights", required=True, help="tools/adaptor_study.py fit --save-dir (without_<category>.npy)")
    p.add_argument("--category", action="append")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--line-good", type=int, default=300)
    p.add_argument("--max-test", type=int, default=150)
    p.add_argument("--after", type=int, default=24, help="parts taken before the adaptor is fitted further")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args()
    root = Path(args.data)
    os.environ[ADAPTOR_ENV] = "none"
    plain = load_encoder()
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        for cat in args.category or list_categories(root):
            report[cat] = run_category(args, root, cat, plain, Path(tmp))
            r = report[cat]
            print(
                f"{cat:14s} after the switch: left out {r['auroc_loo_after']:.3f}  own parts {r['auroc_own_after']:.3f}"
                f"  (defective among the taken parts: {r['taken_defective_share']:.2f})",
                flush=True,
            )
    print(
        f"mean           left out {np.mean([r['auroc_loo_after'] for r in report.values()]):.3f}"
        f"  own parts {np.mean([r['auroc_own_after'] for r in report.values()]):.3f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "categories": report}, indent=1))


if __name__ == "__main__":
    main()
