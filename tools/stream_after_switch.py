"""Image AUROC of the test images a line scored after its product's own map took over (docs/benchmarks.md, "The
product's own map on the line"): two `evaluate --stream --dump` files of the same lines, the own map on and off;
the switch is the on-run's `adapted_at_part`, each image's place on the line the dump's `positions`.

    .venv/bin/python tools/stream_after_switch.py out/s20/loo_stream_on_casting_dump.json \\
        out/s20/loo_stream_off_casting_dump.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.metrics import image_auroc


def _runs(path: str) -> dict[tuple[str, int], dict]:
    return {(r["category"], int(r["seed"])): r for r in json.loads(Path(path).read_text())["runs"]["ours"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("on", help="the dump with the own map on")
    p.add_argument("off", help="the dump of the same lines with it off")
    args = p.parse_args()
    on, off = _runs(args.on), _runs(args.off)
    per_category: dict[str, list[tuple[float, float]]] = {}
    for key in sorted(on):
        a, b = on[key], off[key]
        switch = a.get("adapted_at_part")
        positions = b.get("positions") or a.get("positions")
        if switch is None or not positions:
            print(f"{key[0]} seed {key[1]}: no switch (or no positions in either dump)")
            continue
        after = [i for i, pos in enumerate(positions) if pos > switch]
        labels = [a["labels"][i] for i in after]
        if labels != [b["labels"][i] for i in after]:
            raise SystemExit(f"{key}: the two dumps are not of the same line")
        pair = (
            image_auroc(labels, [b["scores"][i] for i in after]),
            image_auroc(labels, [a["scores"][i] for i in after]),
        )
        per_category.setdefault(key[0], []).append(pair)
        print(f"{key[0]} seed {key[1]}: switch after part {switch:.0f}, {len(after)} test images after it:"
              f" off {pair[0]:.3f}, on {pair[1]:.3f}")  # fmt: skip
    for category, pairs in per_category.items():
        off_mean, on_mean = np.mean(pairs, axis=0)
        print(f"{category}: after the switch, off {off_mean:.3f}, on {on_mean:.3f}")


if __name__ == "__main__":
    main()
