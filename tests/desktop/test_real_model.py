"""The live loop with the REAL model (one Inspector for the session): worker thread, build, saved-model reload,
inspection and recording. The product uses small decoder settings and small frames to keep it quick on a CPU."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from core.calibration import RULE_VERSION
from core.imageio import load_image
from line.capture.folder_source import FolderSource
from line.demo_assets import DEMO_CAMERA_DIR, demo_reference_paths
from tests.desktop.qt_catch import Catch

SIZE = 96
TINY_DECODER = {"resolution": 64, "augment": [], "self_similarity": False}


def _small(path: Path) -> np.ndarray:
    return cv2.resize(load_image(path), (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def test_real_inspector_builds_inspects_records_and_reloads_the_saved_model(
    qtbot, make_rig, database, real_inspector, tmp_path
):
    frames = tmp_path / "frames"
    frames.mkdir()
    for p in sorted(DEMO_CAMERA_DIR.glob("*.png"))[:3]:
        cv2.imwrite(str(frames / p.name), cv2.cvtColor(_small(p), cv2.COLOR_RGB2BGR))
    product = database.products.create("demo small", settings={"decoder": TINY_DECODER})
    database.references.add(product.id, [_small(demo_reference_paths()[0])], original_names=["good_1 small"])

    rig = make_rig(inspector=real_inspector, source_factory=lambda spec: FolderSource(frames, fps=20.0))
    progress = Catch(rig.station.product_progress)
    with qtbot.waitSignal(rig.station.product_ready, timeout=180000):
        rig.station.start("folder", product.id)
    assert real_inspector.encoder_id in rig.window.status.model.text()
    qtbot.waitUntil(lambda: database.products.get(product.id).calibrated_threshold is not None, timeout=5000)
    assert database.products.get(product.id).calibrated_threshold > 0

    qtbot.waitUntil(lambda: rig.station.current_frame is not None, timeout=5000)
    with qtbot.waitSignal(rig.station.inspection_recorded, timeout=60000) as recorded:
        rig.station.inspect_now()
    outcome = rig.station.last_outcome
    assert outcome.result.anomaly_map.shape == (SIZE, SIZE)
    assert outcome.result.threshold > 0 and 0.0 <= outcome.result.probability <= 1.0
    record = database.inspections.get(recorded.args[0])
    assert record.encoder_id == real_inspector.encoder_id and record.heatmap_file.is_file()
    assert record.source == "folder" and record.source_name in {p.name for p in frames.iterdir()}

    # the model was saved: building again loads it instead of recalibrating
    model_dir = tmp_path / "data" / "models" / f"product-{product.id}"
    assert (model_dir / "product.json").is_file()
    n = len(progress.calls)
    with qtbot.waitSignal(rig.station.product_ready, timeout=60000):
        rig.station.request_build(product.id)
    assert any(msg == "Loaded the saved model" for _, _, msg in progress.calls[n:])

    # a model calibrated by an older rule is recalibrated, not reused
    meta_file = model_dir / "product.json"
    meta = json.loads(meta_file.read_text())
    meta["calibration"].pop("rule", None)  # as saved before the rule was versioned
    meta_file.write_text(json.dumps(meta))
    n = len(progress.calls)
    with qtbot.waitSignal(rig.station.product_ready, timeout=60000):
        rig.station.request_build(product.id)
    messages = [msg for _, _, msg in progress.calls[n:]]
    assert "Recalibrating: the saved model used an older rule" in messages
    assert "Loaded the saved model" not in messages
    assert json.loads(meta_file.read_text())["calibration"]["rule"] == RULE_VERSION
