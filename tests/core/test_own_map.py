"""The product's own map (core/own_map.py): fitted on parts line mode takes, stored with the product, applied to
that product only, on made-up parts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import core.line_pool as line_pool
from core.errors import Cancelled, InspectionError
from core.line_pool import MIN_ADMIT, LinePool, taken_path
from core.own_map import INFO_FILE, MAP_FILE, OwnMap, fit_own_map
from core.preprocess import working_image
from core.product import ProductModel
from tests.core.synth import make_part, plant_spot

STEPS = 3  # a few optimiser steps: the tests check the plumbing, docs/benchmarks.md the gain


def _parts(n: int, seed: int = 21) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [make_part(rng) for _ in range(n)]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return make_part(np.random.default_rng(11))


@pytest.fixture(scope="module")
def product(inspector, reference):
    return inspector.build_product([reference], name="disk-own", seed=0)


@pytest.fixture(scope="module")
def own(inspector, product) -> OwnMap:
    works = [working_image(p, product.settings) for p in _parts(4)]
    return fit_own_map(inspector.encoder, works, keys=[f"k{i}" for i in range(4)], steps=STEPS)


def test_the_fit_gives_a_finite_square_map_near_the_identity_with_its_provenance(own):
    d = own.weight.shape[0]
    assert own.weight.shape == (d, d) and bool(torch.isfinite(own.weight).all())
    assert 0.0 < float((own.weight - torch.eye(d)).abs().max()) < 0.5  # it moved, and stayed near the identity
    assert own.parts == 4 and own.steps == STEPS and own.part_keys == ("k0", "k1", "k2", "k3")
    assert len(own.digest) == 8 and own.adapted_at.endswith("+00:00")


def test_the_fit_needs_a_few_parts_and_stops_when_asked(inspector, product):
    works = [working_image(p, product.settings) for p in _parts(3)]
    with pytest.raises(InspectionError, match="at least 3 parts"):
        fit_own_map(inspector.encoder, works[:2])
    calls = []

    def pause() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        fit_own_map(inspector.encoder, works, steps=STEPS, pause=pause)


def test_a_product_built_with_its_map_carries_it_and_the_station_inspects_it(inspector, reference, own):
    adapted = inspector.build_product([reference], name="disk-own", seed=0, own_map=own)
    assert adapted.own_map is own and adapted.adapted_parts == 4
    assert adapted.encoder_id == f"{inspector.encoder_id}+p{own.digest}"
    assert (
        inspector.encoder_id_for(own) == adapted.encoder_id and inspector.encoder_id_for(None) == inspector.encoder_id
    )
    good = _parts(1, seed=77)[0]
    bad, _ = plant_spot(good, 80, 90, radius=12)
    r_good, r_bad = inspector.inspect(good, adapted), inspector.inspect(bad, adapted)
    assert (r_good.verdict, r_bad.verdict) == ("PASS", "FAIL")
    assert r_good.adapted_parts == 4 and r_good.to_dict()["adapted_parts"] == 4
    assert r_good.encoder_id == adapted.encoder_id


def test_the_map_is_saved_with_the_product_and_a_damaged_one_is_a_clear_error(tmp_path, inspector, reference, own):
    adapted = inspector.build_product([reference], name="disk-own", seed=0, own_map=own)
    adapted.save(tmp_path)
    assert (tmp_path / MAP_FILE).is_file() and json.loads((tmp_path / INFO_FILE).read_text())["parts"] == 4
    again = ProductModel.load(tmp_path)
    assert again.own_map is not None and again.own_map.digest == own.digest
    assert torch.equal(again.own_map.weight, own.weight)
    frame = _parts(1, seed=78)[0]
    assert inspector.inspect(frame, again).score == pytest.approx(inspector.inspect(frame, adapted).score, abs=1e-3)
    np.save(tmp_path / MAP_FILE, np.full((3, 3), np.nan, np.float32))
    with pytest.raises(InspectionError, match="own map"):
        ProductModel.load(tmp_path)
    (tmp_path / INFO_FILE).write_text("{not json")
    with pytest.raises(InspectionError, match="unreadable"):
        OwnMap.load(tmp_path)


def test_adapting_keeps_an_operators_threshold_override(inspector, reference, product):
    overridden = product.with_threshold_override(0.9, by="qa")
    works = [working_image(p, product.settings) for p in _parts(3)]
    adapted = inspector.adapt_product(overridden, [reference], works, steps=STEPS)
    assert adapted.calibration.overridden and adapted.calibration.effective_threshold == 0.9
    assert adapted.calibration.override_by == "qa" and adapted.adapted_parts == 3


def test_line_mode_takes_parts_adapts_and_a_burst_of_one_defect_keeps_failing(
    tmp_path, monkeypatch, inspector, reference, product
):
    monkeypatch.setattr(line_pool, "ADAPT_AFTER", 3)
    pool = LinePool()
    goods = _parts(MIN_ADMIT + 40, seed=5)
    current = product
    adapted_at = None
    for i, frame in enumerate(goods):
        r = inspector.inspect(frame, current, pool=pool)
        assert r.verdict == "PASS"
        if pool.ready_to_adapt:
            assert len(pool.taken) == 3 and all(t.key for t in pool.taken)
            pool.save(tmp_path / "pool.npz")  # the taken parts survive a restart
            again = LinePool.load(tmp_path / "pool.npz")
            assert [t.key for t in again.taken] == [t.key for t in pool.taken]
            assert all(np.array_equal(a.image, b.image) for a, b in zip(again.taken, pool.taken, strict=True))
            taken = pool.taken
            current = inspector.adapt_product(
                current, [reference], [t.image for t in taken], [t.key for t in taken], steps=STEPS
            )
            pool.adopt(current.adapted_parts)
            adapted_at = i
            break
    assert adapted_at is not None, "line mode never took enough parts"
    assert not pool.collecting and not pool.taken and pool.adapted == 3
    after = [inspector.inspect(f, current, pool=pool) for f in goods[adapted_at + 1 :]]
    assert all(r.verdict == "PASS" and r.adapted_parts == 3 for r in after)
    defective, _ = plant_spot(_parts(1, seed=42)[0], 80, 90, radius=12)
    burst = [inspector.inspect(defective, current, pool=pool).verdict for _ in range(20)]
    assert burst == ["FAIL"] * 20
    pool.save(tmp_path / "pool.npz")
    assert LinePool.load(tmp_path / "pool.npz").adapted == 3  # and it does not adapt again after a restart
    assert not taken_path(tmp_path / "pool.npz").read_bytes() == b""


def test_failing_or_drifting_parts_are_never_taken_and_a_confirmed_defect_leaves(monkeypatch, inspector, product):
    pool = LinePool()
    for frame in _parts(MIN_ADMIT + 12, seed=6):
        inspector.inspect(frame, product, pool=pool)
    before = [t.key for t in pool.taken]
    assert before, "some typical good parts are taken"
    defective, _ = plant_spot(_parts(1, seed=43)[0], 80, 90, radius=12)
    for _ in range(15):
        assert inspector.inspect(defective, product, pool=pool).verdict == "FAIL"
    assert [t.key for t in pool.taken] == before
    assert pool.exclude(before[0]) and before[0] not in [t.key for t in pool.taken]
