"""What a running line sees while the station fits a product's own map (docs/benchmarks.md, "A product's own good
parts teach the adaptor"): the station's own inference thread (line/inference.py) with the real inspector, one
reference, a product whose pool has just taken ``ADAPT_AFTER`` parts (the category's train/good images that are not
the reference), and parts triggered every ``--period`` seconds (its test images, in turn) before, during and after
the fit. Reported: the fit and rebuild's wall time, and each part's time from trigger to answer, outside the fit
and during it (p50 / p95 / max).

    .venv/bin/python tools/bench_adapt_line.py --data ../shared/datasets --category ball_screw --period 0.5 \\
        [--json out/s20/adapt_line_ball_screw.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evaluation import line_goods, references_for, test_samples
from core.imageio import load_image
from core.inspector import Inspector
from core.line_pool import TakenPart
from core.memory import image_hash
from core.own_map import ADAPT_AFTER
from core.preprocess import working_image
from core.protocols import BuiltProduct
from line.capture.mailbox import Frame
from line.events import BuildFailure, Fault
from line.inference import InferenceEngine
from line.outcome import InspectionOutcome, ProductRequest, ReferenceSource
from line.ports import PartJob


class Listener:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.product = threading.Event()
        self.adapted_at: float | None = None
        self.latencies: list[tuple[float, float]] = []  # (answered at, trigger to answer in ms)
        self.lock = threading.Lock()

    def on_model_ready(self, encoder_id: str) -> None:
        self.ready.set()

    def on_model_failed(self, message: str) -> None:
        raise SystemExit(message)

    def on_product_progress(self, product_id: int, fraction: float, message: str) -> None: ...

    def on_product_ready(self, product_id: int, product: BuiltProduct) -> None:
        self.product.set()

    def on_product_failed(self, product_id: int, message: str, kind: BuildFailure = BuildFailure.FAILED) -> None:
        raise SystemExit(message)

    def on_product_adapted(self, product_id: int, product: BuiltProduct) -> None:
        self.adapted_at = time.monotonic()

    def on_inspected(self, job: PartJob, outcome: InspectionOutcome) -> None:
        now = time.monotonic()
        with self.lock:
            self.latencies.append((now, (now - job.triggered_at) * 1e3))

    def on_part_failed(self, job: PartJob, fault: Fault) -> None:
        print(f"part {job.seq} failed: {fault.text}", file=sys.stderr)


def _stats(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"n": 0}
    a = np.asarray(ms)
    return {
        "n": int(a.size),
        "p50": round(float(np.median(a)), 1),
        "p95": round(float(np.percentile(a, 95)), 1),
        "max": round(float(a.max()), 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--category", required=True)
    p.add_argument("--period", type=float, default=0.5, help="seconds between triggered parts")
    p.add_argument("--before", type=int, default=10, help="parts before the pool is full")
    p.add_argument("--after", type=int, default=10, help="parts after the product adapted")
    p.add_argument("--json")
    args = p.parse_args()
    root = Path(args.data)
    ref_path = references_for(root, args.category, 1, 0)[0]
    frames = [load_image(s.path) for s in test_samples(root, args.category)[:40]]
    listener = Listener()
    inspector_box: list[Inspector] = []

    def factory() -> Inspector:
        inspector_box.append(Inspector())
        return inspector_box[0]

    engine = InferenceEngine(factory, listener)
    engine.start()
    listener.ready.wait()
    with tempfile.TemporaryDirectory() as tmp:
        request = ProductRequest(
            product_id=1,
            name=args.category,
            references=(ReferenceSource(ref_path.name, image=load_image(ref_path)),),
            model_dir=Path(tmp),
        )
        t0 = time.monotonic()
        engine.build_product(request)
        listener.product.wait()
        build_s = time.monotonic() - t0
        assert engine.models is not None
        settings = engine.models.products[1][1].settings
        assert settings is not None
        seq = 0

        def trigger() -> None:
            nonlocal seq
            seq += 1
            frame = Frame(image=frames[seq % len(frames)], index=seq, source="bench")
            engine.inspect(PartJob(seq, f"P{seq}", 1, acquire=lambda: frame))
            time.sleep(args.period)

        for _ in range(args.before):
            trigger()
        goods = [load_image(s.path) for s in line_goods(root, args.category, 1, 0, ADAPT_AFTER)]
        pool = engine.models.pools[1]
        # written from this thread while the inference thread waits for the next part (the bench's shortcut for
        # the ~150 parts a line runs before the pool has taken that many)
        pool.taken = [TakenPart(image_hash(g), working_image(g, settings)) for g in goods]
        fit_start = time.monotonic()
        while listener.adapted_at is None and time.monotonic() - fit_start < 600:
            trigger()
        for _ in range(args.after):
            trigger()
        time.sleep(1.0)
        engine.stop()
    adapted_at = listener.adapted_at
    during = [ms for at, ms in listener.latencies if adapted_at is not None and fit_start <= at <= adapted_at]
    outside = [ms for at, ms in listener.latencies if not (adapted_at is not None and fit_start <= at <= adapted_at)]
    report = {
        "category": args.category,
        "machine": platform.processor() or platform.machine(),
        "period_s": args.period,
        "taken_parts": len(goods),
        "build_s": round(build_s, 2),
        "fit_and_rebuild_s": round(adapted_at - fit_start, 1) if adapted_at is not None else None,
        "latency_outside_ms": _stats(outside),
        "latency_during_ms": _stats(during),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
