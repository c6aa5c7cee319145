"""The OpenVINO runtime gives the torch encoder's features, for any frame size the station makes, and keeps its
converted model in the cache so that only the first start converts it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from core.encoder import EfficientNetLiteEncoder, load_encoder
from core.errors import ModelLoadError

pytest.importorskip("openvino")

from core.openvino_encoder import OpenVinoEncoder


@pytest.fixture(scope="module")
def torch_encoder() -> EfficientNetLiteEncoder:
    torch.set_num_threads(2)
    return EfficientNetLiteEncoder("efficientnet-lite0", device="cpu")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def ov_encoder(torch_encoder, cache_root) -> OpenVinoEncoder:
    return OpenVinoEncoder(torch_encoder, cache_dir=cache_root / "encoder")


@pytest.mark.parametrize(("h", "w", "n"), [(256, 256, 1), (384, 160, 3), (208, 512, 1), (64, 64, 2)])
def test_features_match_the_torch_encoder(torch_encoder, ov_encoder, h, w, n):
    rng = np.random.default_rng(h + w + n)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    expected = torch_encoder.features(images)
    got = ov_encoder.features(images)
    assert got.shape == expected.shape == (n, 152, h // 8, w // 8)
    assert got.dtype == torch.float32
    assert float((got - expected).abs().max()) < 1e-5
    assert ov_encoder.id == torch_encoder.id  # the same function: products built with either runtime are shared


def test_a_size_off_the_grid_goes_through_the_torch_trunk(torch_encoder, ov_encoder):
    image = np.full((72, 88, 3), 128, np.uint8)  # 72 and 88 are multiples of 8, not of 16
    assert torch.equal(ov_encoder.features([image]), torch_encoder.features([image]))


def test_the_converted_model_is_cached_and_a_damaged_copy_is_converted_again(
    torch_encoder, ov_encoder, cache_root, tmp_path
):
    [cached] = [p for p in (cache_root / "encoder").iterdir() if not p.name.startswith(".")]
    assert (cached / "encoder.xml").is_file() and (cached / "encoder.bin").is_file()
    image = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    reference = ov_encoder.features([image])
    folder = tmp_path / cached.name
    shutil.copytree(cached, folder)
    assert torch.allclose(OpenVinoEncoder(torch_encoder, cache_dir=tmp_path).features([image]), reference, atol=1e-6)

    (folder / "encoder.xml").write_text("<not a model")
    again = OpenVinoEncoder(torch_encoder, cache_dir=tmp_path)
    assert torch.allclose(again.features([image]), reference, atol=1e-6)
    assert "<not a model" not in (folder / "encoder.xml").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-written copy left


def test_an_unwritable_cache_costs_only_the_conversion(torch_encoder, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    encoder = OpenVinoEncoder(torch_encoder, cache_dir=blocked / "encoder")
    assert encoder.features([np.zeros((64, 64, 3), np.uint8)]).shape == (1, 152, 8, 8)


def test_the_runtime_is_chosen_by_argument_or_environment(monkeypatch, ov_encoder, cache_root):
    monkeypatch.setenv("INSPECTION_CACHE_DIR", str(cache_root))  # the module's converted copy is read
    assert isinstance(load_encoder(device="cpu", runtime="torch"), EfficientNetLiteEncoder)
    assert isinstance(load_encoder(device="cpu"), OpenVinoEncoder)  # the CPU default where OpenVINO is installed
    monkeypatch.setenv("INSPECTION_ENCODER_RUNTIME", "torch")
    assert isinstance(load_encoder(device="cpu"), EfficientNetLiteEncoder)
    with pytest.raises(ModelLoadError, match="unknown encoder runtime"):
        load_encoder(device="cpu", runtime="tensorrt")
