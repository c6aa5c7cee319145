"""Where the time after the model goes, part by part (docs/benchmarks-plant.md): the heatmap drawn, its file
encoded and written durably, the inspection row and its MQTT outbox message committed. The path as it was (core's
colour map and a stack, an RGB PNG at level 3 written by the database layer) and as it is (a table and a paletted
PNG of the same pixels, line/outcome.py and line/heatmap_png.py) take turns on the same frames and anomaly maps, on
a real database (SQLite WAL, synchronous=FULL, fsync'd files) in a fresh folder, so both see the same load.

    flock /work/notes/bench.lock .venv/bin/python tools/bench_record_path.py --parts 200 [--json out/record.json]

The frame's own file is written while the model inspects (line/frame_files.py) in both, so it is written ahead here
too and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def old_heatmap_rgba(result) -> np.ndarray:
    """The heatmap as line/outcome.py drew it before (core.heatmap.colorize, then a stack)."""
    from core.heatmap import colorize, normalise

    rgb = colorize(result.anomaly_map, result.threshold)
    level = normalise(result.anomaly_map, result.threshold)
    alpha = np.clip((level - 0.15) * 2.5, 0.0, 1.0) * 255.0
    return np.dstack([rgb, alpha.astype(np.uint8)])


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", type=int, default=200, help="parts per path")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    from dataclasses import replace

    import db.inspections as inspections_module
    from core.result import InspectionResult
    from db.image_store import encode_png
    from db.repository import Database
    from line.capture.mailbox import Frame
    from line.demo_assets import DEMO_CAMERA_DIR
    from line.heatmap_png import heatmap_png
    from line.outcome import InspectionOutcome, heatmap_layers

    frames = [np.asarray(Image.open(f).convert("RGB")) for f in sorted(Path(DEMO_CAMERA_DIR).glob("*.png"))]
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp(prefix="bench-record-"))
    database = Database.open(folder)
    product = database.products.create("bench")
    store = database.store
    steps: dict[str, dict[str, list[float]]] = {
        path: {"draw": [], "encode": [], "file": [], "commit": [], "total": []} for path in ("before", "now")
    }
    current: list[str] = ["now"]
    real_transaction = inspections_module.transaction

    @contextmanager
    def timed_transaction(*a, **k):
        t0 = time.perf_counter()
        with real_transaction(*a, **k) as session:
            yield session
        steps[current[0]]["commit"].append((time.perf_counter() - t0) * 1000.0)

    inspections_module.transaction = timed_transaction  # the row and its outbox message, committed (fsync)
    load_before = os.getloadavg()
    for i in range(args.parts * 2):
        path = "before" if i % 2 == 0 else "now"
        current[0] = path
        image = frames[i % len(frames)].copy()
        image[0, :3] = (i % 256, i // 256, 7)  # a new frame each time: its file is new
        amap = cv2.resize(cv2.GaussianBlur(rng.random((20, 20)).astype(np.float32), (5, 5), 1.0), (320, 320))
        result = InspectionResult("PASS", 0.1, float(amap.max()), 0.6, amap, [], {"total": 50.0}, "bench", "c")
        frame_file = store.put_png(image)  # written while the model inspected, in both paths
        t0 = time.perf_counter()
        if path == "before":
            rgba, levels = old_heatmap_rgba(result), None
        else:
            rgba, levels = heatmap_layers(result)
        t1 = time.perf_counter()
        outcome = InspectionOutcome(
            Frame(image, i, "bench"), product.id, "bench", result, rgba, 50.0, part_id=f"P{i}", heatmap_levels=levels
        )
        data = encode_png(rgba[..., :3]) if path == "before" else heatmap_png(outcome)
        t2 = time.perf_counter()
        heat_file = store.put_bytes(data, suffix=".png")  # sha, write, fsync, rename, fsync of the folder
        t3 = time.perf_counter()
        database.inspections.record(
            product_id=product.id,
            result=result,
            image=frame_file,
            heatmap=replace(heat_file, width=320, height=320),
            station="bench",
            part_id=f"P{i}",
            outbox_topic="bench/record",
        )
        t4 = time.perf_counter()
        s = steps[path]
        s["draw"].append((t1 - t0) * 1000.0)
        s["encode"].append((t2 - t1) * 1000.0)
        s["file"].append((t3 - t2) * 1000.0)
        s["total"].append((t4 - t0) * 1000.0)
    load_after = os.getloadavg()
    database.close()
    report = {
        "parts_per_path": args.parts,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "ms": {
            path: {step: {"p50": pct(v, 50), "p90": pct(v, 90)} for step, v in s.items()} for path, s in steps.items()
        },
        "heatmap_file_bytes": {
            "before": len(encode_png(old_heatmap_rgba(result)[..., :3])),
            "now": len(heatmap_png(outcome)),
        },
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
