"""A product's build from its references, with the disturbed copies made ahead in a thread (core/prefetch.py, the
station's way) and made in the caller's thread (the way before), taking turns on the same references in one
process, so that both see the same load (docs/benchmarks.md).

    flock /work/notes/bench.lock .venv/bin/python tools/bench_build.py --data ../shared/datasets --rounds 3 \\
        --category ball_screw --category grid [--json out/build.json]

Both ways give the same product (tests/core/test_prefetch.py checks the calibration evidence is identical).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core.inspector as inspector_module
from core.evaluation import references_for
from core.imageio import load_image
from core.inspector import Inspector
from core.prefetch import Prefetch


class InOrder:
    """The copies made in the caller's thread, as the build made them before core.prefetch."""

    def __init__(self, source, depth: int = 2, name: str = "") -> None:
        self._source = iter(source)

    def __iter__(self):
        return self._source

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--category", action="append", default=[])
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3, help="builds per way and category, taking turns")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    root = Path(args.data)
    cats = args.category or ["ball_screw", "casting", "grid", "hazelnut_toy", "magnetic_tile"]
    inspector = Inspector(device="cpu")
    report: dict = {"cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    for c in cats:
        refs = [load_image(x) for x in references_for(root, c, args.shots, 0)]
        inspector.build_product(refs, name=c)  # warm-up: the encoder's first shapes
        times: dict[str, list[float]] = {"ahead": [], "in_order": []}
        for _ in range(args.rounds):
            for way, maker in (("ahead", Prefetch), ("in_order", InOrder)):
                inspector_module.Prefetch = maker  # type: ignore[misc]
                t = time.perf_counter()
                product = inspector.build_product(refs, name=c)
                times[way].append(time.perf_counter() - t)
        inspector_module.Prefetch = Prefetch  # type: ignore[misc]
        report[c] = {
            "resolution": product.settings.resolution,
            "reference_px": list(refs[0].shape[:2]),
            **{f"{way}_s_median": round(float(np.median(v)), 2) for way, v in times.items()},
            **{f"{way}_s_each": [round(x, 2) for x in v] for way, v in times.items()},
        }
        print(c, report[c], flush=True)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
