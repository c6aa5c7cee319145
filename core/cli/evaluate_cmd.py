"""`python main.py evaluate --data ROOT [--category C ...] --shots K --seeds 0 1 2 [--json OUT] [--baseline]`"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli.common import ArgumentParser, run_guarded

if TYPE_CHECKING:
    from core.settings import DecoderSettings


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="main.py evaluate", description="Evaluate on MVTec-layout folders.")
    p.add_argument("--data", required=True, help="root folder holding <category>/train/good, test/, ground_truth/")
    p.add_argument(
        "--category",
        nargs="+",
        action="extend",
        default=[],
        metavar="C",
        help="categories to evaluate (--category A B or --category A --category B; default all)",
    )
    p.add_argument("--shots", type=int, default=1, help="normal references per seed; 0 = every train/good image")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--json", metavar="OUT", help="write the figures as JSON")
    p.add_argument(
        "--dump",
        metavar="OUT",
        help="write every test image's score and each product's calibration evidence as JSON"
        " (replayed by tools/verdict_study.py)",
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="line mode: test images in a seeded random order, each scored with the references plus the"
        " pool of earlier parts the station learned from (no labels used)",
    )
    p.add_argument(
        "--pool-scoring",
        choices=("on", "off"),
        default=None,
        help="with --stream: score frames against the pool of recent parts too (on), or learn only the"
        " stream's threshold (off; the default, core.line_pool.POOL_SCORING)",
    )
    p.add_argument(
        "--adapt",
        choices=("on", "off"),
        default=None,
        help="with --stream: fit the product's own map on the parts line mode takes and rebuild the product with"
        " it (on; the default, core.line_pool.ADAPT), or keep the shipped features (off)",
    )
    p.add_argument(
        "--line-good",
        type=int,
        default=0,
        metavar="N",
        help="with --stream: up to N further good parts (train/good images that are not references) run on the"
        " line among the test images, as on a real line of mostly good parts; figures cover the test images",
    )
    p.add_argument("--baseline", action="store_true", help="also run the plain kNN baseline in the same table")
    p.add_argument("--max-test", type=int, default=None, help="evaluate a fixed random subset of test images")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--encoder", default="efficientnet-lite0")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one decoder setting of the default method (repeat), e.g. --set resolution=256",
    )
    return p


def settings_with(changes: list[str]) -> DecoderSettings:
    """The default decoder settings with NAME=VALUE changes; a bad name or value is a one-line error."""
    import json as _json

    from core.errors import InspectionError
    from core.inspector import DEFAULT_SETTINGS
    from core.settings import DecoderSettings

    d = DEFAULT_SETTINGS.to_dict()
    for change in changes:
        name, sep, value = change.partition("=")
        if not sep or name not in d or name == "extra":
            names = ", ".join(sorted(set(d) - {"extra"}))
            raise InspectionError(f"--set {change}: expected NAME=VALUE with NAME one of {names}")
        try:
            d[name] = type(d[name])(_json.loads(value)) if not isinstance(d[name], list) else value.split("+")
        except (ValueError, TypeError):
            raise InspectionError(f"--set {change}: {value!r} is not a valid {type(d[name]).__name__}") from None
    return DecoderSettings.from_dict(d)


def _pool_scoring(choice: str | None) -> bool:
    from core.line_pool import POOL_SCORING

    return POOL_SCORING if choice is None else choice == "on"


def _adapt(choice: str | None) -> bool:
    from core.line_pool import ADAPT

    return ADAPT if choice is None else choice == "on"


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args))


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    from core.atomic import atomic_open

    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.encoder import load_encoder
    from core.errors import DatasetError
    from core.evaluation import (
        BASELINE_SETTINGS,
        KEYS,
        SHORT,
        evaluate_category,
        fmt,
        list_categories,
        mean_row,
        references_for,
        test_samples,
    )
    from core.inspector import Inspector

    ours_settings = settings_with(args.set) if args.set else None  # a bad --set fails before any work
    if args.line_good and not args.stream:
        raise DatasetError("--line-good adds good parts to the line: use it with --stream")
    if args.line_good < 0:
        raise DatasetError(f"--line-good {args.line_good}: give a number of parts, 0 or more")
    root = Path(args.data)
    cats = args.category or list_categories(root)
    for c in cats:
        if not (root / c).is_dir():
            raise DatasetError(f"{root / c}: category folder not found")
        references_for(root, c, args.shots, max(args.seeds))
    methods = [("ours", ours_settings)] + ([("baseline", BASELINE_SETTINGS)] if args.baseline else [])
    total = sum(min(len(test_samples(root, c)), args.max_test or 10**9) * len(args.seeds) for c in cats) * len(methods)
    inspector = Inspector(args.encoder, threads=args.threads)
    # the plain baseline is the plain features too: no learned adaptor (core/adaptor.py)
    plain = Inspector(load_encoder(args.encoder, adaptor=None), threads=args.threads) if args.baseline else None
    results: dict[str, dict[str, dict[str, float]]] = {}
    unreadable: dict[str, list[str]] = {c: [] for c in cats}  # per category, one message per unreadable file
    dumps: dict[str, list[dict[str, Any]]] = {}
    with tqdm(total=total, unit="img", desc="evaluating", file=sys.stderr, dynamic_ncols=True) as bar:
        for name, settings in methods:
            rows = {}
            dumps[name] = []
            for c in cats:
                bar.set_postfix_str(f"{name} {c}")
                rows[c] = evaluate_category(
                    plain if name == "baseline" and plain is not None else inspector,
                    root,
                    c,
                    args.shots,
                    args.seeds,
                    settings=settings,
                    on_image=lambda: bar.update(1),
                    max_test=args.max_test,
                    records=dumps[name],
                    stream=args.stream and name == "ours",
                    pool_scoring=_pool_scoring(args.pool_scoring),
                    adapt=_adapt(args.adapt),
                    line_good=args.line_good if name == "ours" else 0,
                    problems=unreadable[c],
                )
            results[name] = rows
    for c, messages in unreadable.items():
        if messages:
            print(
                f"warning: {c}: {len(messages)} file(s) could not be read and are left out of its figures:",
                *(f"  {m}" for m in messages),
                sep="\n",
                file=sys.stderr,
            )
    header = f"{'method':9s} {'category':16s} " + " ".join(f"{SHORT[k]:>9s}" for k in KEYS)
    mode = "line mode (--stream)" if args.stream else "cold start"
    if args.stream:
        mode += ", the product's own map fitted on the line" if _adapt(args.adapt) else ", shipped features only"
    if args.line_good:
        mode += f", up to {args.line_good} further good parts on the line"
    print(f"shots={args.shots or 'all'} seeds={args.seeds} encoder={inspector.encoder_id} {mode}")
    print(header)
    for name, rows in results.items():
        for c, r in [*list(rows.items()), ("mean", mean_row(rows))]:
            print(f"{name:9s} {c:16s} " + " ".join(f"{fmt(r[k]):>9s}" for k in KEYS))
    if args.json:
        ours = results["ours"]
        payload = {
            "shots": args.shots,
            "seeds": args.seeds,
            "stream": args.stream,
            "line_good": args.line_good,
            "adapt": args.stream and _adapt(args.adapt),
            "encoder": inspector.encoder_id,
            "startup_ms": round(inspector.startup_ms, 1),
            "categories": ours,
            "mean": mean_row(ours),
            "unreadable": {c: m for c, m in unreadable.items() if m},
        }
        if "baseline" in results:
            payload["baseline"] = {"categories": results["baseline"], "mean": mean_row(results["baseline"])}
        _write_json_atomic(Path(args.json), payload)
    if args.dump:
        _write_json_atomic(Path(args.dump), {"shots": args.shots, "encoder": inspector.encoder_id, "runs": dumps})
    return 0
