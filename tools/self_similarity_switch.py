"""A causal replay of a line-mode switch between self-similarity on and off (a prototype over two
`main.py evaluate --dump` runs; nothing of it is built into the station). Each product's test images come in
evaluate --stream's order; from the 17th on, a part is judged by its "off" score, at the recent "off" scores' own
stream threshold, when those split into two modes more clearly than the "on" ones (and above
core.line_pool.MIN_SPLIT_GAIN); otherwise as line mode judges it. Prints the balanced accuracy of both
(docs/benchmarks.md "Self-similarity, per category").

    .venv/bin/python tools/self_similarity_switch.py out/s11/k1_cold_dump.json out/s11/k1_noself_dump.json

Two more ways (session 15), printed beside it: "switch, capped" judges an "off" part as line mode judges an "on"
one, at min(the "off" product's own cold threshold, its stream threshold), so the "off" score has a calibrated
threshold from the references like the "on" one; "locked at N" decides once, at the N-th part, which score the
product uses from then on (no flipping along the stream), capped the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.dump_pairs import paired_runs

WINDOW = 64  # recent scores the stream threshold looks at (core.line_pool's window)


def balanced(labels: list[bool], fails: list[bool]) -> tuple[float, float, float]:
    y, p = np.asarray(labels), np.asarray(fails)
    escape = float(np.mean(~p[y])) if y.any() else float("nan")
    false_reject = float(np.mean(p[~y])) if (~y).any() else float("nan")
    return 1 - (escape + false_reject) / 2, escape, false_reject


def replay(run_on: dict, run_off: dict, capped: bool = False, lock: int = 0) -> tuple[list[bool], list[bool], float]:
    """(line mode's verdicts, the switch's verdicts, the share of parts judged "off") in stream order. ``capped``:
    the "off" threshold is never above the "off" product's cold one; ``lock``: the choice is made once, at that
    part, from the scores before it."""
    from core.line_pool import MIN_SPLIT_GAIN, MIN_STREAM, stream_threshold, two_mode_gain

    order = np.random.default_rng(1000 + int(run_on["seed"])).permutation(len(run_on["scores"]))
    on = [run_on["scores"][i] for i in order]
    off = [run_off["scores"][i] for i in order]
    cold = float(run_on["threshold"])
    cold_off = float(run_off["threshold"]) if capped else float("inf")
    line, switch, judged_off = [], [], 0
    locked: bool | None = None
    for i in range(len(order)):
        recent_on, recent_off = on[max(0, i - WINDOW) : i], off[max(0, i - WINDOW) : i]
        threshold = min(cold, stream_threshold(recent_on)) if i >= MIN_STREAM else cold
        line.append(on[i] > threshold)
        use_off = i >= MIN_STREAM and two_mode_gain(recent_off) > max(two_mode_gain(recent_on), MIN_SPLIT_GAIN)
        if lock:
            if i == lock:
                locked = use_off
            use_off = bool(locked)
        if use_off:
            switch.append(off[i] > min(cold_off, stream_threshold(recent_off)))
            judged_off += 1
        else:
            switch.append(on[i] > threshold)
    return line, switch, judged_off / len(order)


def main(on_path: str, off_path: str) -> int:
    ways = {"switch": {}, "switch, capped": {"capped": True}, "locked at 32": {"capped": True, "lock": 32}}
    figures: dict[str, dict[str, list[tuple[float, float, float]]]] = {"line mode": {}, **{w: {} for w in ways}}
    for r, o in paired_runs(on_path, off_path):
        labels = [r["labels"][i] for i in np.random.default_rng(1000 + int(r["seed"])).permutation(len(r["labels"]))]
        shares = []
        for way, options in ways.items():
            line, switch, share_off = replay(r, o, **options)
            figures[way].setdefault(r["category"], []).append(balanced(labels, switch))
            shares.append(f"{way} {share_off:.0%}")
        figures["line mode"].setdefault(r["category"], []).append(balanced(labels, line))
        print(f"{r['category']} seed {r['seed']}: judged 'off': {', '.join(shares)} of the parts")
    for way, per_category in figures.items():
        means = {c: np.nanmean(np.asarray(v), axis=0) for c, v in per_category.items()}
        print(
            way,
            {c: round(float(m[0]), 3) for c, m in means.items()},
            "mean balanced",
            round(float(np.mean([m[0] for m in means.values()])), 3),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
