"""The heatmap is drawn through a table and stored as a paletted PNG (line/outcome.py, line/heatmap_png.py): the
same pixels as core's colour map and as an RGB PNG of them, and the recorded file decodes to what the window showed."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from core.heatmap import JET_RGB, colorize, colorize_levels, normalise
from core.result import InspectionResult
from db.image_store import encode_png
from line.capture.mailbox import Frame
from line.heatmap_png import heatmap_png
from line.outcome import InspectionOutcome, heatmap_layers
from line.recorder import database_writer


def _result(seed: int, threshold: float = 0.4) -> InspectionResult:
    rng = np.random.default_rng(seed)
    amap = cv2.resize(rng.random((12, 16)).astype(np.float32), (80, 60)) * 1.2  # over and under the threshold
    return InspectionResult("FAIL", 0.9, float(amap.max()), threshold, amap, [], {"total": 1.0}, "e", "c")


def test_the_table_draws_the_pixels_core_colour_map_draws():
    for seed in range(3):
        result = _result(seed)
        rgba, levels = heatmap_layers(result)
        level = normalise(result.anomaly_map, result.threshold)
        alpha = (np.clip((level - 0.15) * 2.5, 0.0, 1.0) * 255.0).astype(np.uint8)
        assert np.array_equal(rgba, np.dstack([colorize(result.anomaly_map, result.threshold), alpha]))
        assert np.array_equal(levels, (level * 255).astype(np.uint8))


def test_the_paletted_file_decodes_to_the_rgb_pixels_with_or_without_the_levels_kept():
    result = _result(4)
    rgba, levels = heatmap_layers(result)
    frame = Frame(np.zeros((60, 80, 3), np.uint8), 1, "Camera 0")
    with_levels = InspectionOutcome(frame, 1, "widget", result, rgba, 5.0, heatmap_levels=levels)
    data = heatmap_png(with_levels)
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "P"
        assert np.array_equal(np.asarray(image.convert("RGB")), rgba[..., :3])
    # read back from the unsaved folder (no levels): the same file as the first, refused attempt wrote
    back = InspectionOutcome(frame, 1, "widget", result, rgba, 5.0)
    assert heatmap_png(back) == data


def test_a_heatmap_that_is_not_its_results_colour_map_is_stored_as_rgb():
    result = _result(5)
    rgba = np.random.default_rng(1).integers(0, 256, (60, 80, 4), dtype=np.uint8)
    outcome = InspectionOutcome(Frame(np.zeros((60, 80, 3), np.uint8), 1, "Camera 0"), 1, "w", result, rgba, 5.0)
    assert heatmap_png(outcome) == encode_png(rgba[..., :3])


def test_the_recorded_heatmap_file_holds_the_shown_pixels(database, product):
    result = _result(7)
    rgba, levels = heatmap_layers(result)
    frame = Frame(np.full((60, 80, 3), 128, np.uint8), 1, "Camera 0")
    outcome = InspectionOutcome(frame, product.id, "widget", result, rgba, 5.0, part_id="P-1", heatmap_levels=levels)
    record = database_writer(database, station="s", topic="t")(outcome)
    assert record.heatmap_file is not None
    with Image.open(record.heatmap_file) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), rgba[..., :3])
    assert database.outbox.pending(10)[0].payload["heatmap_sha256"] == record.heatmap_sha256


def test_an_outcome_read_back_from_the_unsaved_folder_gets_the_same_heatmap_file(tmp_path):
    """The start-up clean-up keeps the files of a waiting entry by their hash (line/startup_cleanup.py): the file a
    refused first attempt wrote is the one the entry's replay writes."""
    from line.unsaved_spool import UnsavedSpool

    result = _result(9, threshold=0.41237)
    rgba, levels = heatmap_layers(result)
    frame = Frame(np.zeros((60, 80, 3), np.uint8), 1, "Camera 0")
    outcome = InspectionOutcome(frame, 1, "widget", result, rgba, 5.0, heatmap_levels=levels)
    spool = UnsavedSpool(tmp_path / "unsaved")
    spool.put([outcome])
    back = spool.load(spool.entries()[0])
    assert back is not None and back.heatmap_levels is None
    assert heatmap_png(back) == heatmap_png(outcome)


def test_the_one_colour_table_is_opencvs_jet():
    """core.heatmap.JET_RGB is the only colour table: it draws exactly what OpenCV's JET map draws."""
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(colorize_levels(u8), cv2.applyColorMap(u8, cv2.COLORMAP_JET)[..., ::-1])
    assert np.array_equal(JET_RGB[u8], colorize_levels(u8))
