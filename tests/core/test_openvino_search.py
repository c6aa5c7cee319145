"""The search's matrix products on OpenVINO give torch's values, with and without the self-similarity window, and
an inspector beside the OpenVINO encoder uses them."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("openvino")

from core.decoder import nearest_distance, patch_scores, self_distance
from core.openvino_search import OpenVinoSimilarity
from core.search import TORCH_SIMILARITY
from core.settings import DecoderSettings


def _unit(*shape: int) -> torch.Tensor:
    return torch.nn.functional.normalize(
        torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape))), dim=-1
    )


@pytest.fixture(scope="module")
def ov() -> OpenVinoSimilarity:
    return OpenVinoSimilarity(threads=2)


@pytest.mark.parametrize(("n", "m", "c"), [(600, 700, 24), (1, 5, 8), (2304, 1536, 152)])
def test_best_similarity_matches_torch(ov, n, m, c):
    q, keys = _unit(n, c), _unit(m, c)
    expected = TORCH_SIMILARITY.best(q, keys.T.contiguous())
    assert torch.allclose(ov.best(q, keys.T.contiguous()), expected, atol=1e-5)
    assert torch.allclose(nearest_distance(q, keys, ov), nearest_distance(q, keys), atol=1e-4)


@pytest.mark.parametrize(("n", "m", "k"), [(600, 700, 8), (5, 3, 3), (2304, 1536, 4)])
def test_the_k_best_similarities_match_torch(ov, n, m, k):
    q, keys = _unit(n, 24), _unit(m, 24)
    values, indices = ov.top(q, keys.T.contiguous(), k)
    expected_values, expected_indices = TORCH_SIMILARITY.top(q, keys.T.contiguous(), k)
    assert indices.dtype == torch.int64 and values.shape == (n, k)
    assert torch.allclose(values, expected_values, atol=1e-5)
    assert (indices == expected_indices).float().mean() > 0.999  # ties in float rounding aside


def test_the_windowed_self_search_matches_torch_and_is_called_again_with_other_sizes(ov):
    for h, w in ((20, 17), (40, 40), (3, 3)):
        grid = _unit(h, w, 16)
        assert torch.allclose(self_distance(grid, 3, search=ov), self_distance(grid, 3), atol=1e-4)


def test_patch_scores_are_the_same_whoever_runs_the_search(ov):
    grid, bank = _unit(24, 30, 32), _unit(400, 32)
    for self_similarity, reconstruct in ((True, 1), (False, 1), (True, 8)):
        st = DecoderSettings(resolution=256, self_similarity=self_similarity, reconstruct=reconstruct)
        a = patch_scores(grid, bank, st, search=ov)
        b = patch_scores(grid, bank, st)
        assert torch.allclose(a, b, atol=1e-4)


def test_an_inspector_beside_the_openvino_encoder_searches_on_openvino():
    from core.inspector import Inspector
    from core.openvino_encoder import OpenVinoEncoder

    inspector = Inspector(device="cpu")
    if isinstance(inspector.encoder, OpenVinoEncoder):
        assert inspector.search.name == "openvino"
    else:  # INSPECTION_ENCODER_RUNTIME=torch
        assert inspector.search.name == "torch"
