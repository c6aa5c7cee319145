"""Two `main.py evaluate --dump` files of the same products, paired run by run, for the studies that replay one
product two ways (tools/self_similarity_stream.py, tools/self_similarity_switch.py, tools/scale_ensemble_study.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Run = dict[str, Any]


def load_runs(path: str | Path, method: str = "ours") -> list[Run]:
    """The runs of one method in an evaluate --dump file, in the file's order."""
    try:
        runs: list[Run] = json.loads(Path(path).read_text())["runs"][method]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path}: not an evaluate --dump file with {method!r} runs ({exc})") from None
    return runs


def paired_runs(first: str | Path, second: str | Path, method: str = "ours") -> list[tuple[Run, Run]]:
    """Each product's (category, seed) run in ``first`` with the same product's run in ``second``, in the first
    file's order; the two must hold the same products, each scored on the same test images."""
    runs = load_runs(first, method)
    others = {(r["category"], int(r["seed"])): r for r in load_runs(second, method)}
    keys = {(r["category"], int(r["seed"])) for r in runs}
    if keys != set(others):
        raise SystemExit(f"{first} and {second} hold different products: {sorted(keys ^ set(others))}")
    pairs = []
    for r in runs:
        o = others[(r["category"], int(r["seed"]))]
        if o["labels"] != r["labels"]:
            raise SystemExit(f"{r['category']} seed {r['seed']}: the two dumps scored different test images")
        pairs.append((r, o))
    return pairs
