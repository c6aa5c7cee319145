"""`python main.py inspect --product NAME [--data-dir D] IMAGE [--json] [--heatmap OUT.png]`: inspect one image
against a product saved in the station's database, reusing its saved model (``<data dir>/models/product-<id>``,
written by ``main.py product create`` or the station) instead of rebuilding it from references on every call.

Without ``--product`` this is core's ``inspect --ref ...`` unchanged (core/cli/inspect_cmd.py). The option lives
on the line side because finding a saved product needs the database, and core/ never imports db/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def wants_product(argv: list[str]) -> bool:
    return any(a == "--product" or a.startswith("--product=") for a in argv)


def build_parser() -> argparse.ArgumentParser:
    from core.cli.common import ArgumentParser

    p = ArgumentParser(prog="main.py inspect", description="Inspect one image against a saved product.")
    p.add_argument("image", help="image of the part to inspect")
    p.add_argument("--product", required=True, metavar="NAME", help="the product's name (or id), as product list shows")
    p.add_argument("--data-dir", type=Path, default=None, help="the station's data folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--heatmap", metavar="OUT.png", help="write the heatmap overlay as PNG")
    p.add_argument("--encoder", default="efficientnet-lite0", help="efficientnet-lite0 (default), -lite1, -lite2")
    p.add_argument("--ref", action="append", default=[], help=argparse.SUPPRESS)
    return p


def main(argv: list[str]) -> int:
    if not wants_product(argv):
        from core.cli.inspect_cmd import main as core_main

        return core_main(argv)
    args = build_parser().parse_args(argv)
    if args.ref:
        print("main.py inspect: error: use either --product or --ref, not both (see --help)", file=sys.stderr)
        return 2
    from core.cli.common import run_guarded
    from db.errors import DatabaseError

    def guarded() -> int:
        try:
            return _run(args)
        except DatabaseError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run_guarded(guarded)


def _run(args: argparse.Namespace) -> int:
    from core.errors import ReferencesError
    from core.heatmap import overlay
    from core.imageio import load_image, save_png
    from core.inspector import Inspector
    from db.engine import default_data_dir
    from db.repository import Database
    from line.capture.mailbox import Frame
    from line.catalog import product_request
    from line.outcome import InspectRequest
    from line.product_models import ProductModels

    frame = load_image(args.image)
    if args.heatmap and not Path(args.heatmap).parent.exists():
        raise ReferencesError(f"{Path(args.heatmap).parent}: folder for --heatmap does not exist")
    data_dir = default_data_dir(args.data_dir)
    with Database.open(data_dir) as database:
        wanted = args.product.strip()
        info = database.products.get(int(wanted) if wanted.isdigit() else wanted)
        request = product_request(database, data_dir, info.id)
    inspector = Inspector(args.encoder)
    models = ProductModels(inspector)
    reused: list[str] = []

    def progress(fraction: float, message: str) -> None:
        if message == "Loaded the saved model":
            reused.append(message)
        elif not args.json:
            print(f"  {int(100 * fraction):3d}% {message}", file=sys.stderr)

    models.build(request, progress, cancel=lambda: False)
    outcome = models.inspect(InspectRequest(Frame(frame, 1, Path(args.image).name, kind="file"), info.id))
    result = outcome.result
    if args.heatmap:
        save_png(overlay(frame, result.anomaly_map, result.threshold, regions=result.regions), args.heatmap)
    if args.json:
        d = result.to_dict()
        d["timings_ms"]["startup"] = round(inspector.startup_ms, 1)
        d["product"] = info.name
        d["saved_model"] = bool(reused)
        print(json.dumps(d))
    else:
        print(
            f"{result.verdict}  probability {result.probability:.2f}  score {result.score:.3f}"
            f"  threshold {result.threshold:.3f}{' (operator override)' if result.overridden else ''}"
        )
        for r in result.regions:
            print(
                f"  region at the {r.location}: {r.area_pct:.2f}% of the part, bbox {list(r.bbox)}, peak {r.peak:.3f}"
            )
        print(
            f"  {result.timings_ms['total']:.0f} ms ({'saved model of ' if reused else 'built '}{info.name})",
            file=sys.stderr,
        )
    return 0
