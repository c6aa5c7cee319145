"""The encoder loads its packaged weights strictly and yields unit-norm multi-scale patch features."""

import numpy as np
import pytest
import torch

from core.encoder import EfficientNetLiteEncoder, _weights_file
from core.errors import ModelLoadError


def test_features_shape_and_norm(inspector):
    enc = inspector.encoder
    f = enc.features([np.zeros((128, 192, 3), np.uint8)])
    assert f.shape == (1, 40 + 112, 16, 24)
    assert torch.allclose(f.norm(dim=1), torch.ones(1, 16, 24), atol=1e-4)
    assert enc.id.startswith("efficientnet-lite0@")


def test_mismatched_weights_are_an_error(tmp_path):
    state = torch.load(_weights_file("efficientnet-lite0"), map_location="cpu", weights_only=True)
    state.pop(next(iter(state)))  # one missing key
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(ModelLoadError, match="do not match"):
        EfficientNetLiteEncoder("efficientnet-lite0", device="cpu", weights=bad)


def test_unreadable_weights_and_unknown_name(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match="cannot read"):
        EfficientNetLiteEncoder("efficientnet-lite0", device="cpu", weights=junk)
    with pytest.raises(ModelLoadError, match="unknown encoder"):
        EfficientNetLiteEncoder("resnet-50")


def test_folded_trunk_matches_the_original_layers():
    from efficientnet_lite_pytorch import EfficientNet

    from core.fused_trunk import FusedTrunk

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(_weights_file("efficientnet-lite0"), map_location="cpu", weights_only=True))
    model.eval()
    x = torch.rand(1, 3, 96, 160) * 2 - 1
    with torch.inference_mode():
        h = model._swish(model._bn0(model._conv_stem(x)))
        expected = []
        for i, block in enumerate(model._blocks[:11]):
            h = block(h)
            if i in (4, 10):
                expected.append(h)
        got = FusedTrunk(model, (4, 10))(x)
    assert [g.shape for g in got] == [e.shape for e in expected]
    for g, e in zip(got, expected, strict=False):
        assert torch.allclose(g, e, atol=1e-4, rtol=1e-4)
