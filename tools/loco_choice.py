"""Choose a setting leave-one-category-out from `main.py evaluate --json` runs that differ in that setting only.

Each ``--variant NAME=FILE`` is one evaluate run (same data, seeds and test subsets; one setting changed). For each
category the variant is chosen on the *other* categories (the highest mean of ``--metric`` over them; a tie keeps
the earlier variant, so list today's default first) and the chosen variant's figure on the left-out category is
what the setting would give a product nobody tuned for. "In-sample" chooses on every category at once. It also
says, per variant, which categories it lowers by more than ``--tolerance`` against the first variant (the project's
rule: a change that sinks a category by more than 0.02 is not an improvement).

    .venv/bin/python tools/loco_choice.py --variant default=out/s15/k1_default.json \\
        --variant w0.7=out/s15/k1_sw0.7.json --variant w0.3=out/s15/k1_sw0.3.json [--metric image_auroc]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Choice:
    category: str
    variant: str  # chosen without this category
    value: float  # the chosen variant's figure on it
    default: float  # the first variant's figure on it


def load_variant(spec: str) -> tuple[str, dict[str, dict[str, float]]]:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise SystemExit(f"--variant {spec!r}: write NAME=FILE")
    try:
        payload = json.loads(Path(path).read_text())
        return name, payload["categories"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"--variant {spec!r}: not an evaluate --json file ({exc})") from None


def figure(run: dict[str, dict[str, float]], category: str, metric: str) -> float:
    value = run.get(category, {}).get(metric, math.nan)
    return float(value) if value is not None else math.nan


def categories_of(variants: dict[str, dict[str, dict[str, float]]], metric: str) -> list[str]:
    """The categories every variant has a figure of ``metric`` for (casting has no pixel metrics)."""
    names = None
    for run in variants.values():
        have = {c for c in run if not math.isnan(figure(run, c, metric))}
        names = have if names is None else names & have
    return sorted(names or ())


def best_on(variants: dict[str, dict[str, dict[str, float]]], categories: list[str], metric: str) -> str:
    """The variant with the highest mean ``metric`` over ``categories`` (the first one on a tie)."""
    best_name, best_mean = "", -math.inf
    for name, run in variants.items():
        mean = sum(figure(run, c, metric) for c in categories) / len(categories)
        if mean > best_mean + 1e-12:
            best_name, best_mean = name, mean
    return best_name


def leave_one_out(variants: dict[str, dict[str, dict[str, float]]], metric: str) -> list[Choice]:
    cats = categories_of(variants, metric)
    first = next(iter(variants.values()))
    out = []
    for c in cats:
        chosen = best_on(variants, [o for o in cats if o != c], metric)
        out.append(Choice(c, chosen, figure(variants[chosen], c, metric), figure(first, c, metric)))
    return out


def losses(variants: dict[str, dict[str, dict[str, float]]], metric: str, tolerance: float) -> dict[str, list[str]]:
    """Per variant, the categories it lowers by more than ``tolerance`` against the first variant."""
    cats = categories_of(variants, metric)
    first = next(iter(variants.values()))
    return {
        name: [c for c in cats if figure(run, c, metric) < figure(first, c, metric) - tolerance]
        for name, run in variants.items()
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", action="append", required=True, metavar="NAME=FILE", help="the default first")
    p.add_argument("--metric", default="image_auroc", help="an evaluate key (default image_auroc)")
    p.add_argument("--tolerance", type=float, default=0.02)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    variants = dict(load_variant(v) for v in args.variant)
    if len(variants) < 2:
        raise SystemExit("give at least two variants (the default first)")
    cats = categories_of(variants, args.metric)
    if len(cats) < 2:
        raise SystemExit(f"fewer than two categories have {args.metric} in every variant")
    print(f"{args.metric}, per category: " + ", ".join(variants))
    for c in cats:
        print(f"  {c:<16}" + "".join(f"{figure(run, c, args.metric):>9.3f}" for run in variants.values()))
    means = {n: sum(figure(r, c, args.metric) for c in cats) / len(cats) for n, r in variants.items()}
    print(f"  {'mean':<16}" + "".join(f"{m:>9.3f}" for m in means.values()))
    chosen_all = best_on(variants, cats, args.metric)
    loo = leave_one_out(variants, args.metric)
    print(f"in-sample choice: {chosen_all} (mean {means[chosen_all]:.3f})")
    print("leave-one-category-out: the variant chosen without the category, and its figure on it")
    for ch in loo:
        print(f"  {ch.category:<16} {ch.variant:<12} {ch.value:.3f} (first variant {ch.default:.3f})")
    loo_mean = sum(ch.value for ch in loo) / len(loo)
    print(f"  {'mean':<16} {'':<12} {loo_mean:.3f} (first variant {means[next(iter(variants))]:.3f})")
    for name, cs in losses(variants, args.metric, args.tolerance).items():
        if cs:
            print(f"{name} lowers {', '.join(cs)} by more than {args.tolerance:g}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "metric": args.metric,
                    "in_sample": chosen_all,
                    "leave_one_out": [asdict(ch) for ch in loo],
                    "leave_one_out_mean": loo_mean,
                    "means": means,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
