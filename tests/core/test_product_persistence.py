"""Products survive a restart: saved model and the bank cache are reused, not recomputed."""

import json

import numpy as np
import pytest

from core.errors import Cancelled, InspectionError, ReferencesError
from core.memory import build_bank
from core.product import ProductModel
from core.settings import DecoderSettings
from tests.core.synth import make_part


def test_save_load_roundtrip(tmp_path, inspector, part_product):
    part_product.save(tmp_path / "p")
    loaded = ProductModel.load(tmp_path / "p")
    assert loaded.calibration.threshold == pytest.approx(part_product.calibration.threshold)
    assert loaded.bank.features.shape == part_product.bank.features.shape
    frame = make_part(np.random.default_rng(9))
    a = inspector.inspect(frame, part_product)
    b = inspector.inspect(frame, loaded)
    assert a.verdict == b.verdict and a.score == pytest.approx(b.score, rel=1e-2)
    info = json.loads((tmp_path / "p" / "product.json").read_text())
    assert info["bank_bytes"] > 0 and info["encoder_id"] == inspector.encoder_id


def test_corrupt_saved_model(tmp_path, part_product):
    part_product.save(tmp_path / "p")
    (tmp_path / "p" / "bank.npz").write_bytes(b"garbage")
    with pytest.raises(InspectionError, match="unreadable"):
        ProductModel.load(tmp_path / "p")
    with pytest.raises(InspectionError, match="no saved product"):
        ProductModel.load(tmp_path / "empty")


def test_bank_cache_hit_and_cap(tmp_path, inspector):
    refs = [make_part(np.random.default_rng(1))]
    settings = DecoderSettings(
        resolution=256, augment=("flip", "rot90"), bank_cap=2000, coreset_ratio=1.0, reference_cap=10**6
    )
    msgs = []
    bank = build_bank(inspector.encoder, refs, settings, cache_dir=tmp_path, progress=lambda f, m: msgs.append(m))
    assert bank.features.shape[0] == 2000  # 6 views x 196 patches capped by the coreset
    assert len(list(tmp_path.glob("bank-*.npz"))) == 1
    msgs.clear()
    again = build_bank(inspector.encoder, refs, settings, cache_dir=tmp_path, progress=lambda f, m: msgs.append(m))
    assert msgs == ["memory bank loaded from cache"]
    assert again.key == bank.key


def test_bank_keeps_a_coreset_share_of_the_patches(inspector):
    refs = [make_part(np.random.default_rng(1))]
    full = build_bank(inspector.encoder, refs, DecoderSettings(resolution=256, augment=(), coreset_ratio=1.0))
    quarter = build_bank(inspector.encoder, refs, DecoderSettings(resolution=256, augment=(), coreset_ratio=0.25))
    assert quarter.features.shape[0] == round(full.features.shape[0] * 0.25)
    two = build_bank(
        inspector.encoder,
        [*refs, refs[0][::-1].copy()],
        DecoderSettings(resolution=256, augment=(), coreset_ratio=0.25),
    )
    assert two.features.shape[0] == 2 * quarter.features.shape[0]  # each reference thinned on its own
    capped = build_bank(
        inspector.encoder, refs, DecoderSettings(resolution=256, augment=(), coreset_ratio=0.25, reference_cap=20)
    )
    assert capped.features.shape[0] == 20
    assert quarter.key != full.key  # a different memory is cached under a different key


def test_empty_reference_list(inspector):
    with pytest.raises(ReferencesError, match="at least one"):
        inspector.build_product([])


def test_cancel(inspector):
    with pytest.raises(Cancelled):
        inspector.build_product([make_part(np.random.default_rng(2))], cancel=lambda: True)
