"""`python main.py inspect --ref A.png [--ref B.png ...] IMAGE [--json] [--heatmap OUT.png]`"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import ArgumentParser, run_guarded


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="main.py inspect", description="Inspect one image against normal reference images.")
    p.add_argument("image", help="image of the part to inspect")
    p.add_argument("--ref", action="append", default=[], metavar="PATH", help="normal reference image (repeat)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--heatmap", metavar="OUT.png", help="write the heatmap overlay as PNG")
    p.add_argument("--encoder", default="efficientnet-lite0", help="efficientnet-lite0 (default), -lite1, -lite2")
    p.add_argument("--threshold", type=float, default=None, help="operator override of the automatic threshold")
    p.add_argument("--cache-dir", default=None, help="folder for the memory-bank cache")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from core.calibration_warning import calibration_warning
    from core.errors import ReferencesError
    from core.heatmap import overlay
    from core.imageio import load_image, save_png
    from core.inspector import Inspector

    if not args.ref:
        raise ReferencesError("no reference images: pass at least one --ref PATH of a good part")
    refs = [load_image(p) for p in args.ref]  # every file is checked before any work starts
    frame = load_image(args.image)
    if args.heatmap:
        out = Path(args.heatmap)
        if not out.parent.exists():
            raise ReferencesError(f"{out.parent}: folder for --heatmap does not exist")
    inspector = Inspector(args.encoder)
    product = inspector.build_product(refs, name="cli", cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    if args.threshold is not None:
        product = product.with_threshold_override(args.threshold, by="cli")
    result = inspector.inspect(frame, product)
    warning = calibration_warning(product.calibration.to_dict(), "the references")
    if args.heatmap:
        save_png(overlay(frame, result.anomaly_map, result.threshold, regions=result.regions), args.heatmap)
    if args.json:
        d = result.to_dict()
        d["timings_ms"]["startup"] = round(inspector.startup_ms, 1)
        d["warning"] = warning
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
        print(f"  {result.timings_ms['total']:.0f} ms", file=sys.stderr)
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    return 0
