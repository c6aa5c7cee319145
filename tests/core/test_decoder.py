"""The blocked nearest-patch searches give exactly what a plain all-pairs distance gives."""

import torch

from core.decoder import nearest_distance, self_distance


def _unit(*shape: int) -> torch.Tensor:
    return torch.nn.functional.normalize(
        torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape))), dim=-1
    )


def test_nearest_distance_matches_all_pairs_across_blocks():
    q, bank = _unit(600, 24), _unit(700, 24)  # more queries than one block
    expected = torch.cdist(q, bank).min(dim=1).values
    assert torch.allclose(nearest_distance(q, bank), expected, atol=1e-3)


def test_self_distance_skips_the_window_around_each_patch():
    h, w, r = 20, 17, 3
    grid = _unit(h, w, 16)
    q = grid.reshape(-1, 16)
    d = torch.cdist(q, q)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    near = ((ys[:, None] - ys[None, :]).abs() <= r) & ((xs[:, None] - xs[None, :]).abs() <= r)
    expected = d.masked_fill(near, float("inf")).min(dim=1).values.reshape(h, w)
    assert torch.allclose(self_distance(grid, r), expected, atol=1e-3)


def test_large_frames_are_compared_with_a_fixed_sample_of_their_own_patches():
    grid = _unit(40, 40, 16)  # 1600 patches, more than the sample
    a, b = self_distance(grid, 4, most=500), self_distance(grid, 4, most=500)
    assert torch.equal(a, b)  # the same sample every frame
    full = self_distance(grid, 4, most=10**6)
    assert (a >= full - 1e-5).all()  # a sample can only find matches as close as all patches do, or farther


def test_a_patch_whose_every_candidate_is_in_its_window_gets_the_distance_of_similarity_minus_two():
    """The window is taken out by a bias in the product (core/decoder.py); where it covers every candidate the
    result is the one the masked fill gave before: similarity -2, distance sqrt(2 + 4)."""
    grid = _unit(3, 3, 8)
    assert torch.allclose(self_distance(grid, radius=5), torch.full((3, 3), 6.0**0.5))


def _explicit_reconstruction(q: torch.Tensor, bank: torch.Tensor, k: int, ridge: float) -> torch.Tensor:
    """The residual written out with the neighbours' features, as the docstring states it."""
    nb = bank[torch.cdist(q, bank).topk(k, dim=1, largest=False).indices]  # (n, k, C), nearest first
    a, y = nb[:, 1:] - nb[:, :1], q - nb[:, 0]
    w = torch.linalg.solve(a @ a.transpose(1, 2) + ridge * torch.eye(k - 1), a @ y[:, :, None])
    return (y - (a.transpose(1, 2) @ w).squeeze(2)).norm(dim=1)


def test_the_reconstruction_distance_is_the_ridge_residual_on_the_nearest_patches():
    from core.decoder import reconstruction_distance

    q, bank = _unit(300, 24), _unit(400, 24)
    for k, ridge in ((8, 10.0), (8, 0.1), (3, 1.0)):
        expected = _explicit_reconstruction(q, bank, k, ridge)
        assert torch.allclose(reconstruction_distance(q, bank, k, ridge=ridge), expected, atol=1e-4)


def test_a_memory_too_large_for_its_gram_gives_the_same_reconstruction(monkeypatch):
    import core.decoder as decoder

    q, bank = _unit(200, 24), _unit(300, 24)
    with_gram = decoder.reconstruction_distance(q, bank, 8)
    monkeypatch.setattr(decoder, "GRAM_MOST", 100)  # the bank is now "too large": features are gathered
    assert torch.allclose(decoder.reconstruction_distance(q, bank, 8), with_gram, atol=1e-4)


def test_the_reconstruction_is_never_farther_than_the_nearest_patch_and_tends_to_it_with_the_ridge():
    from core.decoder import reconstruction_distance

    q, bank = _unit(300, 24), _unit(400, 24)
    plain = nearest_distance(q, bank)
    assert (reconstruction_distance(q, bank, 8) <= plain + 1e-5).all()
    assert torch.allclose(reconstruction_distance(q, bank, 1), plain, atol=1e-5)
    assert torch.allclose(reconstruction_distance(q, bank, 8, ridge=1e6), plain, atol=1e-4)
    assert torch.allclose(reconstruction_distance(q, _unit(3, 24), 8), nearest_distance(q, _unit(3, 24)), atol=0.5)


def test_a_patch_between_normal_patches_is_explained_and_one_off_their_span_is_not():
    from core.decoder import reconstruction_distance

    angles = torch.linspace(0, 3.0, 12)
    bank = torch.stack([angles.cos(), angles.sin(), torch.zeros(12)], dim=1)  # unit rows on one great circle
    between = torch.tensor([[float(torch.cos(torch.tensor(0.68))), float(torch.sin(torch.tensor(0.68))), 0.0]])
    off = torch.tensor([[0.0, 0.0, 1.0]])
    assert nearest_distance(between, bank).item() > 0.05
    assert reconstruction_distance(between, bank, 4, ridge=1e-6).item() < 1e-3  # in the plane of its neighbours
    assert abs(reconstruction_distance(off, bank, 4, ridge=1e-6).item() - 1.0) < 1e-3  # its distance to that plane


def test_patch_scores_use_the_reconstruction_only_when_asked():
    from core.decoder import patch_scores, reconstruction_distance
    from core.settings import DecoderSettings

    grid, bank = _unit(12, 10, 16), _unit(200, 16)
    plain = patch_scores(grid, bank, DecoderSettings(resolution=256, self_similarity=False))
    assert torch.allclose(plain, nearest_distance(grid.reshape(-1, 16), bank).reshape(12, 10), atol=1e-5)
    rec = patch_scores(grid, bank, DecoderSettings(resolution=256, self_similarity=False, reconstruct=6))
    assert torch.allclose(rec, reconstruction_distance(grid.reshape(-1, 16), bank, 6).reshape(12, 10), atol=1e-5)
    assert DecoderSettings.from_dict({"resolution": 384}).reconstruct == 1  # a product saved before the setting
