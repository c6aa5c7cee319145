"""Choose a verdict rule leave-one-category-out, from saved scores (no image is scored again).

Input: one or more ``main.py evaluate --dump`` files. Each holds, per category and reference seed, every test
image's score and label and the product's calibration evidence (the scores of its normal stand-ins and of its
simulated defects). A rule family maps that evidence to a threshold with a few parameters; for each category the
parameters are fitted on the *other* categories (the mean balanced verdict accuracy over them) and scored on it.
The "in-sample" column fits them on every category, the figure a rule chosen on all the data would claim.

    .venv/bin/python tools/verdict_study.py out/k1_auto_dump.json [--family all]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.verdict_rule import FAMILIES, RuleFamily


def load_runs(paths: Iterable[str], method: str = "ours") -> list[dict]:
    runs: list[dict] = []
    for p in paths:
        payload = json.loads(Path(p).read_text())
        runs += payload["runs"][method]
    return runs


def rates(run: dict, threshold: float) -> tuple[float, float, float]:
    """(balanced accuracy, escape rate, false-reject rate) of one run at a threshold."""
    s = np.asarray(run["scores"])
    y = np.asarray(run["labels"], bool)
    fail = s > threshold
    escape = float(np.mean(~fail[y])) if y.any() else float("nan")
    false_reject = float(np.mean(fail[~y])) if (~y).any() else float("nan")
    return float(np.nanmean([1 - escape, 1 - false_reject])), escape, false_reject


def category_figures(runs: list[dict], threshold_of: Callable[[dict], float]) -> dict[str, np.ndarray]:
    """Per category: the seeds' mean (balanced accuracy, escape, false reject)."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for r in runs:
        out.setdefault(r["category"], []).append(rates(r, threshold_of(r)))
    return {c: np.nanmean(np.asarray(v), axis=0) for c, v in out.items()}


def fit(family: RuleFamily, runs: list[dict]) -> tuple[tuple[float, ...], float]:
    """The parameters that maximise the mean over categories of the balanced accuracy."""
    best: tuple[tuple[float, ...], float] = ((), -1.0)
    for params in itertools.product(*family.grid):
        figs = category_figures(runs, lambda r: family.threshold(r["evidence"], params))
        score = float(np.mean([f[0] for f in figs.values()]))
        if score > best[1] + 1e-9:
            best = (tuple(float(v) for v in params), score)
    return best


def study(family: RuleFamily, runs: list[dict]) -> dict[str, dict]:
    cats = sorted({r["category"] for r in runs})
    params_all, _ = fit(family, runs)
    in_sample = category_figures(runs, lambda r: family.threshold(r["evidence"], params_all))
    table: dict[str, dict] = {}
    for c in cats:
        params_loo, _ = fit(family, [r for r in runs if r["category"] != c])
        loco = category_figures(
            [r for r in runs if r["category"] == c], lambda r: family.threshold(r["evidence"], params_loo)
        )[c]
        table[c] = {"in_sample": in_sample[c].tolist(), "loco": loco.tolist(), "params_loco": params_loo}
    table["_params_all"] = {"params": params_all}
    return table


def print_table(name: str, table: dict[str, dict]) -> None:
    cats = [c for c in table if not c.startswith("_")]
    print(f"\n{name}: parameters fitted on every category {table['_params_all']['params']}")
    print(f"  {'category':16s} {'in-sample bal/esc/frr':>24s} {'leave-one-out bal/esc/frr':>27s}  parameters (LOCO)")
    for c in cats:
        i, lo = table[c]["in_sample"], table[c]["loco"]
        print(
            f"  {c:16s} {i[0]:8.3f} {i[1]:6.3f} {i[2]:6.3f}    {lo[0]:8.3f} {lo[1]:6.3f} {lo[2]:6.3f}   "
            f"{tuple(round(p, 3) for p in table[c]['params_loco'])}"
        )
    mi = np.mean([table[c]["in_sample"] for c in cats], axis=0)
    ml = np.mean([table[c]["loco"] for c in cats], axis=0)
    print(f"  {'mean':16s} {mi[0]:8.3f} {mi[1]:6.3f} {mi[2]:6.3f}    {ml[0]:8.3f} {ml[1]:6.3f} {ml[2]:6.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dumps", nargs="+")
    ap.add_argument("--family", default="all", help=f"one of {', '.join(FAMILIES)} or all")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    runs = load_runs(args.dumps)
    shipped = category_figures(runs, lambda r: r["threshold"])
    cats = sorted(shipped)
    print("threshold as the products were calibrated (bal / escape / false reject):")
    for c in cats:
        print(f"  {c:16s} " + " ".join(f"{v:6.3f}" for v in shipped[c]))
    print(f"  {'mean':16s} " + " ".join(f"{v:6.3f}" for v in np.mean([shipped[c] for c in cats], axis=0)))
    families = FAMILIES if args.family == "all" else {args.family: FAMILIES[args.family]}
    results = {}
    for name, fam in families.items():
        results[name] = study(fam, runs)
        print_table(name, results[name])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
