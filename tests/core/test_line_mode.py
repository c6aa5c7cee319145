"""Line mode (core/line_pool.py): the pool of recent parts, its safety rules and its persistence, on made-up parts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.line_pool import DRIFT_WINDOW, MIN_ADMIT, MIN_POOL, MIN_STREAM, LinePool, stream_threshold
from tests.core.synth import make_part, plant_spot


@pytest.fixture(scope="module")
def one_ref_product(inspector):
    rng = np.random.default_rng(11)
    return inspector.build_product([make_part(rng)], name="disk-line", seed=0)


def _good_parts(n: int, seed: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [make_part(rng) for _ in range(n)]


def _filled_pool(inspector, product, n: int = MIN_STREAM + 16) -> LinePool:
    pool = LinePool(scoring=True)
    for p in _good_parts(n):
        inspector.inspect(p, product, pool=pool)
    return pool


def test_pool_fills_from_passing_parts_and_switches_to_line_mode(inspector, one_ref_product):
    pool = LinePool(scoring=True)
    results = [inspector.inspect(p, one_ref_product, pool=pool) for p in _good_parts(MIN_STREAM + 16)]
    assert results[0].mode == "cold" and results[0].pool_size == 0
    assert all(r.verdict == "PASS" for r in results)
    assert MIN_POOL <= len(pool) < len(results) - MIN_ADMIT  # only the most typical recent parts join
    assert results[-1].mode == "line" and results[-1].pool_size in (len(pool), len(pool) - 1)
    assert results[-1].to_dict()["mode"] == "line"
    # The pool's parts are real good parts: a new good part scores lower against references + pool than cold.
    fresh = _good_parts(1, seed=99)[0]
    cold = inspector.inspect(fresh, one_ref_product)
    line = inspector.inspect(fresh, one_ref_product, pool=pool)
    assert line.score <= cold.score + 1e-6


def test_a_burst_of_one_defect_keeps_failing(inspector, one_ref_product):
    pool = _filled_pool(inspector, one_ref_product)
    size = len(pool)
    base = _good_parts(1, seed=42)[0]
    defective, _ = plant_spot(base, 80, 90, radius=12)
    verdicts = []
    for i in range(20):  # a broken tool: the same defect, part after part
        frame = np.clip(defective.astype(np.int16) + i % 3, 0, 255).astype(np.uint8)
        verdicts.append(inspector.inspect(frame, one_ref_product, pool=pool).verdict)
    assert verdicts == ["FAIL"] * 20
    assert len(pool) == size  # none of them joined
    # ... and once the line is good again it passes
    assert inspector.inspect(_good_parts(1, seed=43)[0], one_ref_product, pool=pool).verdict == "PASS"


def test_a_defect_that_slipped_into_the_pool_cannot_hide_itself(inspector, one_ref_product):
    pool = _filled_pool(inspector, one_ref_product)
    defective, _ = plant_spot(_good_parts(1, seed=8)[0], 80, 90, radius=12)
    # plant two escaped defective parts in the pool by hand, as a too-lenient verdict would have let in
    for k in range(2):
        grid = inspector._score(defective, one_ref_product.bank.features, one_ref_product.settings)[3]
        pool.observe(f"escape{k}", grid, 0.0, 1e9, failed=False)
    assert inspector.inspect(defective, one_ref_product, pool=pool).verdict == "FAIL"


def test_a_camera_knocked_out_of_position_raises_drift_and_is_not_learned(inspector, one_ref_product):
    pool = _filled_pool(inspector, one_ref_product)
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


def _grid() -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(8, 8, 16), dim=-1)


def test_a_confirmed_defect_leaves_the_pool_and_never_joins():
    pool = LinePool(scoring=True)
    for i in range(MIN_ADMIT):
        pool.observe(f"warm{i}", _grid(), 0.5, 1.0, failed=False)
    assert pool.observe("a", _grid(), 0.1, 1.0, failed=False)
    assert pool.exclude("a") and "a" not in list(pool.keys())
    assert not pool.observe("a", _grid(), 0.1, 1.0, failed=False)


def test_only_the_most_typical_recent_parts_join():
    pool = LinePool(scoring=True)
    rng = np.random.default_rng(0)
    for i in range(MIN_ADMIT):
        assert not pool.observe(f"w{i}", _grid(), float(rng.uniform(0.4, 0.6)), 1.0, failed=False)
    assert not pool.observe("high", _grid(), 0.59, 1.0, failed=False)  # passes, but not typical: stays out
    assert pool.observe("low", _grid(), 0.41, 1.0, failed=False)
    assert not pool.observe("failed", _grid(), 0.1, 1.0, failed=True)


def test_stream_threshold_sits_between_good_parts_and_a_run_of_defects():
    rng = np.random.default_rng(1)
    good = list(np.exp(rng.normal(np.log(0.4), 0.05, 40)))
    bad = list(np.exp(rng.normal(np.log(0.7), 0.05, 20)))
    t = stream_threshold(good + bad)
    assert max(good) < t < min(bad)
    # a line of good parts only: the threshold sits above nearly all of them, in their tail
    t1 = stream_threshold(good)
    assert np.mean(np.asarray(good) > t1) <= 0.05 and t1 < 0.4 * 1.5


def test_line_threshold_follows_the_stream_only_once_it_has_enough_parts():
    pool = LinePool(scoring=True)
    for i in range(MIN_STREAM - 1):
        pool.observe(str(i), _grid(), 0.40 + 0.001 * i, 0.6, failed=False)
    assert pool.threshold(0.6, False) == 0.6  # too few parts: the references' own threshold
    pool.observe("last", _grid(), 0.41, 0.6, failed=False)
    assert pool.threshold(0.6, False) < 0.6


def test_pool_survives_a_restart(tmp_path, inspector, one_ref_product):
    pool = _filled_pool(inspector, one_ref_product)
    pool.exclude("gone")
    pool.save(tmp_path / "pool.npz")
    again = LinePool.load(tmp_path / "pool.npz")
    assert list(again.keys()) == list(pool.keys()) and len(again) >= MIN_POOL
    assert again.excluded == {"gone"} and list(again.recent_scores) == list(pool.recent_scores)
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


def test_the_default_line_mode_learns_the_threshold_keeps_no_parts_and_a_burst_keeps_failing(
    inspector, one_ref_product
):
    pool = LinePool()
    assert not pool.scoring  # core.line_pool.POOL_SCORING (docs/benchmarks.md says why)
    goods = [inspector.inspect(p, one_ref_product, pool=pool) for p in _good_parts(MIN_STREAM + 4)]
    assert all(r.verdict == "PASS" for r in goods) and len(pool) == 0
    assert pool.learned == MIN_STREAM + 4 and goods[-1].pool_size == MIN_STREAM + 3
    assert goods[-1].mode == "line"  # the stream's threshold decided
    defective, _ = plant_spot(_good_parts(1, seed=42)[0], 80, 90, radius=12)
    burst = [inspector.inspect(defective, one_ref_product, pool=pool).verdict for _ in range(20)]
    assert burst == ["FAIL"] * 20
