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
