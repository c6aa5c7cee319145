"""The learned feature adaptor: shipped with its manifest, part of the encoder's id, and a bad file says what to do."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.adaptor import ADAPTOR_ENV, ADAPTOR_ROOT, adaptor_path, load_adaptor
from core.encoder import EfficientNetLiteEncoder
from core.errors import ModelLoadError


def test_the_shipped_adaptor_loads_and_its_manifest_says_how_it_was_made():
    path = ADAPTOR_ROOT / "efficientnet-lite0.npy"
    adaptor = load_adaptor(path, 152)
    assert tuple(adaptor.weight.shape) == (152, 152)
    manifest = json.loads((ADAPTOR_ROOT / "efficientnet-lite0.json").read_text())
    assert manifest["shape"] == [152, 152]
    assert len(manifest["trained_on"]) == 5
    # every category's left-out study figure is recorded, not only the in-sample ones
    assert all("loo" in figures for figures in manifest["study_image_auroc"].values())


def test_adapted_features_are_unit_patch_features_and_the_id_names_the_adaptor(monkeypatch):
    monkeypatch.delenv(ADAPTOR_ENV, raising=False)
    adapted = EfficientNetLiteEncoder("efficientnet-lite0", device="cpu")
    plain = EfficientNetLiteEncoder("efficientnet-lite0", device="cpu", adaptor=None)
    assert adapted.adaptor is not None and plain.adaptor is None
    assert adapted.id.startswith(plain.id + "+a") and adapted.id != plain.id
    frame = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    fa, fp = adapted.features([frame]), plain.features([frame])
    assert fa.shape == fp.shape == (1, 152, 8, 12)
    assert torch.allclose(fa.norm(dim=1), torch.ones(1, 8, 12), atol=1e-5)
    assert not torch.allclose(fa, fp, atol=1e-3)


def test_the_environment_chooses_another_adaptor_or_none(tmp_path, monkeypatch):
    monkeypatch.setenv(ADAPTOR_ENV, "none")
    assert adaptor_path("efficientnet-lite0") is None
    assert EfficientNetLiteEncoder("efficientnet-lite0", device="cpu").adaptor is None
    other = tmp_path / "other.npy"
    np.save(other, np.eye(152, dtype=np.float32))
    monkeypatch.setenv(ADAPTOR_ENV, str(other))
    assert adaptor_path("efficientnet-lite0") == other
    assert adaptor_path("efficientnet-lite1") == other
    monkeypatch.delenv(ADAPTOR_ENV)
    assert adaptor_path("efficientnet-lite1") is None  # no adaptor ships for Lite1: its plain features


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"not an array", "unreadable"),
        (np.eye(100, dtype=np.float32), "needs 152 rows"),
        (np.ones((152, 152), dtype=np.int32), "needs 152 rows of floats"),
        (np.full((152, 152), np.nan, dtype=np.float32), "non-finite"),
    ],
)
def test_a_bad_adaptor_file_is_a_load_error_that_says_what_to_do(tmp_path, content, message):
    path = tmp_path / "a.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.save(path, content)
    with pytest.raises(ModelLoadError, match=message) as err:
        load_adaptor(path, 152)
    assert f"{ADAPTOR_ENV}=none" in str(err.value)


def test_a_bad_adaptor_named_in_the_environment_stops_the_encoder_loading(tmp_path, monkeypatch):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x00" * 10)
    monkeypatch.setenv(ADAPTOR_ENV, str(bad))
    with pytest.raises(ModelLoadError, match="bad.npy"):
        EfficientNetLiteEncoder("efficientnet-lite0", device="cpu")
