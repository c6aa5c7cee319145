"""Line mode (core/line_pool.py): the pool of recent parts, its safety rules and its persistence, on made-up parts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.line_pool import DRIFT_WINDOW, MIN_POOL, LinePool
from tests.core.synth import make_part, plant_spot


@pytest.fixture(scope="module")
def one_ref_product(inspector):
    rng = np.random.default_rng(11)
    return inspector.build_product([make_part(rng)], name="disk-line", seed=0)


def _good_parts(n: int, seed: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [make_part(rng) for _ in range(n)]


def test_pool_fills_from_passing_parts_and_switches_to_line_mode(inspector, one_ref_product):
    pool = LinePool()
    results = [inspector.inspect(p, one_ref_product, pool=pool) for p in _good_parts(MIN_POOL + 3)]
    assert results[0].mode == "cold" and results[0].pool_size == 0
    assert all(r.verdict == "PASS" for r in results)
    assert len(pool) == MIN_POOL + 3
    assert results[-1].mode == "line" and results[-1].pool_size == MIN_POOL + 2
    assert results[-1].to_dict()["mode"] == "line"
    # The pool's parts are real good parts: a new good part scores lower against references + pool than cold.
    fresh = _good_parts(1, seed=99)[0]
    cold = inspector.inspect(fresh, one_ref_product)
    line = inspector.inspect(fresh, one_ref_product, pool=pool)
    assert line.score <= cold.score + 1e-6


def test_a_burst_of_one_defect_keeps_failing(inspector, one_ref_product):
    pool = LinePool()
    for p in _good_parts(8):
        inspector.inspect(p, one_ref_product, pool=pool)
    base = _good_parts(1, seed=42)[0]
    defective, _ = plant_spot(base, 80, 90, radius=12)
    verdicts = []
    for i in range(20):  # a broken tool: the same defect, part after part
        frame = np.clip(defective.astype(np.int16) + i % 3, 0, 255).astype(np.uint8)
        verdicts.append(inspector.inspect(frame, one_ref_product, pool=pool).verdict)
    assert verdicts == ["FAIL"] * 20
    assert len(pool) == 8  # none of them joined
    # ... and once the line is good again it passes
    assert inspector.inspect(_good_parts(1, seed=43)[0], one_ref_product, pool=pool).verdict == "PASS"


def test_a_defect_that_slipped_into_the_pool_cannot_hide_itself(inspector, one_ref_product):
    pool = LinePool()
    goods = _good_parts(9)
    defective, _ = plant_spot(goods[0], 80, 90, radius=12)
    for p in goods[1:]:
        inspector.inspect(p, one_ref_product, pool=pool)
    # plant two escaped defective parts in the pool by hand, as a too-lenient verdict would have let in
    for k in range(2):
        grid = inspector._score(defective, one_ref_product.bank.features, one_ref_product.settings)[3]
        pool.observe(f"escape{k}", grid, 0.0, 1e9, failed=False)
    assert inspector.inspect(defective, one_ref_product, pool=pool).verdict == "FAIL"


def test_a_camera_knocked_out_of_position_raises_drift_and_is_not_learned(inspector, one_ref_product):
    pool = LinePool()
    for p in _good_parts(6):
        inspector.inspect(p, one_ref_product, pool=pool)
    size = len(pool)
    rng = np.random.default_rng(3)
    results = []
    for _ in range(DRIFT_WINDOW + 2):
        part = make_part(rng)
        moved = np.roll(part, (70, 60), axis=(0, 1))  # the part sits far from where it used to
        moved = (moved.astype(np.float32) * 0.55).astype(np.uint8)  # and the light changed
        results.append(inspector.inspect(moved, one_ref_product, pool=pool))
    assert results[-1].drift
    assert results[-1].to_dict()["drift"] is True
    assert len(pool) == size


def test_a_confirmed_defect_leaves_the_pool_and_never_joins():
    pool = LinePool()
    grid = torch.nn.functional.normalize(torch.randn(8, 8, 16), dim=-1)
    assert pool.observe("a", grid, 0.5, 1.0, failed=False)
    assert pool.exclude("a") and len(pool) == 0
    assert not pool.observe("a", grid, 0.5, 1.0, failed=False)


def test_line_threshold_never_above_the_cold_one():
    pool = LinePool()
    grid = torch.nn.functional.normalize(torch.randn(8, 8, 16), dim=-1)
    for i, s in enumerate((0.40, 0.42, 0.41, 0.45, 0.43)):
        pool.observe(str(i), grid, s, 0.6, failed=False)
    t = pool.threshold(0.6)
    assert 0.45 < t <= 0.6
    assert pool.threshold(0.44) == 0.44


def test_pool_survives_a_restart(tmp_path, inspector, one_ref_product):
    pool = LinePool()
    for p in _good_parts(MIN_POOL + 1):
        inspector.inspect(p, one_ref_product, pool=pool)
    pool.exclude("gone")
    pool.save(tmp_path / "pool.npz")
    again = LinePool.load(tmp_path / "pool.npz")
    assert list(again.keys()) == list(pool.keys())
    assert again.excluded == {"gone"}
    frame = _good_parts(1, seed=77)[0]
    a = inspector.inspect(frame, one_ref_product, pool=pool)
    b = inspector.inspect(frame, one_ref_product, pool=again)
    assert b.mode == "line" and abs(a.score - b.score) < 2e-3  # float16 storage
    assert abs(a.threshold - b.threshold) < 1e-9


def test_unreadable_pool_file_is_a_clear_error(tmp_path):
    from core.errors import InspectionError

    bad = tmp_path / "pool.npz"
    bad.write_bytes(b"not a pool")
    with pytest.raises(InspectionError, match="line pool is unreadable"):
        LinePool.load(bad)
