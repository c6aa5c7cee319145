"""Self-calibrated weighting of the frame's edge: learned from normal maps, stored with the calibration."""

from dataclasses import replace

import numpy as np
import pytest

from core.calibration import MIN_EDGE_FLOOR, Calibration, edge_floor_from_maps, fit_calibration
from core.decoder import edge_weights, weight_edges
from tests.core.synth import make_part


def test_edge_weights_ramp_from_floor_at_the_edge_to_one_inside_the_band():
    w = edge_weights(40, 60, 0.1, 0.6)  # band = 6 px
    assert w.shape == (40, 60)
    assert w[0, 0] == pytest.approx(0.6) and w[0, 30] == pytest.approx(0.6) and w[20, 59] == pytest.approx(0.6)
    assert w[3, 30] == pytest.approx(0.8)  # halfway through the band
    assert (w[6:-6, 6:-6] == 1.0).all()
    assert np.all(np.diff(w[:20, 30]) >= 0)  # rises towards the interior


def test_no_band_or_no_floor_leaves_the_map_alone():
    m = np.random.default_rng(0).random((30, 30)).astype(np.float32)
    assert weight_edges(m, 0.0, 0.5) is m
    assert weight_edges(m, 0.1, 1.0) is m


def _maps_with_edge_level(level: float, n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    maps = []
    for _ in range(n):
        m = rng.uniform(0.9, 1.0, (50, 80)).astype(np.float32)
        edge = np.ones(m.shape, dtype=bool)
        edge[5:-5, 5:-5] = False  # the band: 6% of the long side
        m[edge] *= level
        maps.append(m)
    return maps


def test_edge_floor_brings_a_high_edge_down_to_the_interior():
    assert edge_floor_from_maps(_maps_with_edge_level(1.25), band=0.06) == pytest.approx(0.8, abs=0.02)


def test_edge_floor_is_one_where_the_edge_is_no_higher_and_bounded_below():
    assert edge_floor_from_maps(_maps_with_edge_level(1.0), band=0.06) == pytest.approx(1.0, abs=0.02)
    assert edge_floor_from_maps(_maps_with_edge_level(0.6), band=0.06) == 1.0  # a quiet edge is not weighted up
    assert edge_floor_from_maps(_maps_with_edge_level(5.0), band=0.06) == MIN_EDGE_FLOOR
    assert edge_floor_from_maps(_maps_with_edge_level(1.5), band=0.0) == 1.0  # weighting switched off
    assert edge_floor_from_maps([], band=0.06) == 1.0


def test_calibration_keeps_its_edge_floor_and_older_products_their_ids():
    cal = fit_calibration([1.0, 1.1, 1.2], [2.0, 2.5, 3.0], normals_are_real=False, edge_floor=0.7)
    again = Calibration.from_dict(cal.to_dict())
    assert again.edge_floor == pytest.approx(0.7) and again.id == cal.id
    old = cal.to_dict()
    del old["edge_floor"]  # saved before edge weighting existed
    loaded = Calibration.from_dict(old)
    assert loaded.edge_floor == 1.0
    assert loaded.id == replace(cal, edge_floor=1.0).id != cal.id


def test_inspection_weights_the_edge_by_the_products_floor(inspector, part_product):
    assert MIN_EDGE_FLOOR <= part_product.calibration.edge_floor <= 1.0
    frame = make_part(np.random.default_rng(3))
    flat = replace(part_product, calibration=replace(part_product.calibration, edge_floor=1.0))
    low = replace(part_product, calibration=replace(part_product.calibration, edge_floor=0.5))
    a, b = inspector.inspect(frame, flat).anomaly_map, inspector.inspect(frame, low).anomaly_map
    h, w = a.shape
    assert b[h // 2, w // 2] == pytest.approx(a[h // 2, w // 2], rel=1e-4)  # interior untouched
    assert b[0, w // 2] == pytest.approx(0.5 * a[0, w // 2], rel=0.1)  # edge halved (map resized to the frame)
