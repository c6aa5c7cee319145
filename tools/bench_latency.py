"""Latency of map + verdict per frame on this machine (docs/benchmarks.md).

    .venv/bin/python tools/bench_latency.py --data ../shared/datasets --shots 1 --frames 40 [--resolution 256] [--line]

``--line``: line mode with its stream window full (STREAM_WINDOW recent scores), and with ``--pool-scoring`` a full
pool too (POOL_SIZE parts taken from the test frames): the costliest state a running line reaches.

Reports start-up (encoder load), product build, and per-frame p50/p95 of each stage, plus the bank's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.cli.evaluate_cmd import settings_with
from core.evaluation import references_for, test_samples
from core.imageio import load_image
from core.inspector import DEFAULT_SETTINGS, Inspector
from core.line_pool import MIN_ADMIT, POOL_SIZE, STREAM_WINDOW, LinePool
from core.memory import patch_features
from core.openvino_encoder import RUNTIME_ENV
from core.own_map import OwnMap
from core.preprocess import working_image
from core.settings import DecoderSettings


def full_pool(
    inspector: Inspector, product, frames: list, pool: LinePool | None = None, scoring: bool = False
) -> LinePool:
    """A full line-mode state: STREAM_WINDOW recent scores and, where the pool scores, POOL_SIZE parts."""
    if pool is not None and len(pool) == (POOL_SIZE if scoring else 0) and len(pool.recent_scores) == STREAM_WINDOW:
        return pool
    pool = LinePool(scoring=scoring)
    parts = []
    for f in frames[:8]:
        parts.append(patch_features(inspector.encoder, working_image(f, product.settings)))  # the part's grid
    for i in range(POOL_SIZE):
        pool.observe(f"part{i}", parts[i % len(parts)], 0.0, 1e9, failed=False)  # admitted: scores below all
        pool.recent_scores.clear()  # (warm-up scores of 0 would say nothing; filled below)
        pool.recent_scores.extend([1.0] * MIN_ADMIT)
    pool.recent_scores.clear()
    rng = np.random.default_rng(0)
    pool.recent_scores.extend(rng.uniform(0.3, 0.5, STREAM_WINDOW).tolist())
    pool.recent_line.extend(rng.uniform(0.25, 0.45, STREAM_WINDOW).tolist())
    return pool


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--category", action="append", default=[])
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--resolution", type=int, default=DEFAULT_SETTINGS.resolution, help="0 = automatic per product")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the station's, ADR 0008)")
    p.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="frames inspected first and not timed (steady state; the first category after start-up needs about 20)",
    )
    p.add_argument("--line", action="store_true", help="line mode, with the stream window (and pool) full")
    p.add_argument("--pool-scoring", action="store_true", help="with --line: frames scored against the pool too")
    p.add_argument(
        "--adapted",
        action="store_true",
        help="the product built with an own map (core/own_map.py; a near-identity one: its cost, not its fit)",
    )
    p.add_argument("--builds", type=int, default=3, help="product builds per category; the median is reported")
    p.add_argument(
        "--runtime", choices=("auto", "torch", "openvino"), default="auto", help="the encoder's runtime (ADR 0008)"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one decoder setting (repeat), as `evaluate --set`, e.g. --set reconstruct=8",
    )
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if args.runtime != "auto":
        os.environ[RUNTIME_ENV] = args.runtime
    root = Path(args.data)
    cats = args.category or ["hazelnut_toy", "grid", "magnetic_tile"]
    t0 = time.perf_counter()
    inspector = Inspector(device="cpu", threads=args.threads)
    startup = (time.perf_counter() - t0) * 1e3
    base = settings_with(args.set) if args.set else DEFAULT_SETTINGS
    settings = DecoderSettings.from_dict({**base.to_dict(), "resolution": args.resolution})
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__},"
        f" {torch.get_num_threads()} torch threads, encoder on {getattr(inspector.encoder, 'runtime', 'torch')}",
        "resolution": args.resolution or "auto",
        "set": args.set,
        "shots": args.shots,
        "startup_ms": round(startup, 1),
        "categories": {},
    }
    own = None
    if args.adapted:
        dim = int(inspector.encoder.features([np.zeros((64, 64, 3), np.uint8)]).shape[1])
        noise = torch.randn(dim, dim, generator=torch.Generator().manual_seed(0))
        own = OwnMap(torch.eye(dim) + 0.01 * noise, parts=24, steps=0, adapted_at="bench")
    out["adapted"] = args.adapted
    for c in cats:
        refs = [load_image(x) for x in references_for(root, c, args.shots, 0)]
        builds = []
        for _ in range(max(1, args.builds)):
            t = time.perf_counter()
            product = inspector.build_product(refs, name=c, settings=settings, own_map=own)
            builds.append((time.perf_counter() - t) * 1e3)
        build = float(np.median(builds))
        frames = [load_image(s.path) for s in test_samples(root, c)[: args.frames]]
        pool = full_pool(inspector, product, frames, scoring=args.pool_scoring) if args.line else None
        for f in frames[: args.warmup]:  # the first frames after a build run slower (allocator, caches)
            inspector.inspect(f, product, pool=pool)
        stages: dict[str, list[float]] = {}
        for f in frames:
            if pool is not None:  # keep it full: the frames inspected here would otherwise join and evict
                pool = full_pool(inspector, product, frames, pool, scoring=args.pool_scoring)
            r = inspector.inspect(f, product, pool=pool)
            for k, v in r.timings_ms.items():
                stages.setdefault(k, []).append(v)
        row = {
            k: {"p50": round(float(np.percentile(v, 50)), 1), "p95": round(float(np.percentile(v, 95)), 1)}
            for k, v in stages.items()
        }
        row["resolution"] = product.settings.resolution
        row["build_ms"] = round(build, 0)
        row["build_ms_each"] = [round(b) for b in builds]
        row["bank_patches"] = int(product.bank.features.shape[0])
        row["bank_mb_ram_float32"] = round(product.bank.nbytes / 1e6, 2)
        row["frames"] = len(frames)
        if pool is not None:
            row["pool_size"] = len(pool)
            row["learned"] = pool.learned
            row["mode"] = r.mode
        out["categories"][c] = row
        print(c, json.dumps(row), flush=True)
    print(json.dumps({k: v for k, v in out.items() if k != "categories"}))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
