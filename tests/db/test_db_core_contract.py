"""The db stores what core produces: calibration dicts, decoder settings, results with regions, heatmaps.

Uses the real core types (no model weights needed: the calibration is fitted on given scores)."""

from __future__ import annotations

import numpy as np

from core.calibration import Calibration, fit_calibration
from core.heatmap import colorize
from core.result import FAIL, InspectionResult, Region
from core.settings import DecoderSettings
from db.repository import Database


def test_calibration_and_settings_round_trip_through_the_database(database: Database) -> None:
    calibration = fit_calibration([0.30, 0.35, 0.41, 0.38], [0.9, 1.3, 1.1, 2.0], normals_are_real=True)
    product = database.products.create("widget")
    database.products.save_calibration(product.id, calibration.to_dict())
    database.products.update_settings(product.id, {"decoder": DecoderSettings().to_dict()})
    stored = database.products.get(product.id)
    assert stored.calibration == calibration.to_dict()  # the JSON column keeps core's dict exactly
    restored = Calibration.from_dict(stored.calibration or {})
    assert (restored.threshold, restored.scale, restored.id) == (
        calibration.threshold,
        calibration.scale,
        calibration.id,
    )
    assert DecoderSettings.from_dict(stored.settings["decoder"]) == DecoderSettings()
    assert stored.threshold_in_use == calibration.threshold
    overridden = calibration.with_override(calibration.threshold * 1.2, by="supervisor")
    database.products.set_threshold_override(product.id, overridden.effective_threshold, by="supervisor")
    assert database.products.get(product.id).threshold_in_use == overridden.effective_threshold


def test_a_core_result_with_its_heatmap_is_recorded_faithfully(database: Database, make_frame) -> None:
    frame = make_frame(7, 40, 60)
    anomaly_map = np.zeros((40, 60), np.float32)
    anomaly_map[5:15, 40:55] = 2.0
    result = InspectionResult(
        verdict=FAIL,
        probability=0.97,
        score=2.0,
        threshold=0.8,
        anomaly_map=anomaly_map,
        regions=[Region(bbox=(40, 5, 55, 15), area_pct=6.25, location="top right", peak=2.0, centroid=(47.0, 9.5))],
        timings_ms={"features": 12.0, "search": 3.0, "map": 1.0, "verdict": 0.1, "total": 16.1},
        encoder_id="efficientnet-lite0",
        calibration_id="abc123",
        overridden=True,
        image_size=(60, 40),
        mode="line",
        pool_size=37,
    )
    heatmap = colorize(result.anomaly_map, result.threshold)
    product = database.products.create("widget")
    record = database.inspections.record(product_id=product.id, result=result, image=frame, heatmap=heatmap)
    summary = result.to_dict()
    assert (record.verdict, record.threshold_overridden, record.encoder_id, record.calibration_id) == (
        summary["verdict"],
        summary["threshold_overridden"],
        summary["encoder_id"],
        summary["calibration_id"],
    )
    assert (record.probability, record.score, record.threshold) == (0.97, 2.0, 0.8)
    assert list(record.regions) == summary["regions"]
    assert [Region.from_dict(r).bbox for r in record.regions] == [(40, 5, 55, 15)]
    assert (record.width, record.height) == (60, 40)
    assert (record.mode, record.pool_size) == ("line", 37)  # the verdict's provenance (line mode)
    assert database.inspections.get(record.id).mode == "line"
    assert record.heatmap_sha256 is not None
    assert np.array_equal(database.store.read_array(record.heatmap_sha256), heatmap)
    assert np.array_equal(database.store.read_array(record.image_sha256), frame)
