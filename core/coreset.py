"""Bounding a memory bank: greedy k-center coreset (PatchCore-style) on a random projection."""

from __future__ import annotations

import torch

# Above this share of the points to keep, a random subset covers the set about as well and costs nothing.
RANDOM_ABOVE = 0.5


def greedy_coreset(features: torch.Tensor, size: int, seed: int = 0, projection_dim: int = 64) -> torch.Tensor:
    """Indices of ``size`` rows of ``features`` that cover the set well (each step adds the farthest point)."""
    n = features.shape[0]
    if size >= n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    if size >= RANDOM_ABOVE * n:
        return random_subset(n, size, seed)
    # Pre-thin very large sets at random: the greedy pass is O(n * size).
    pool = torch.arange(n)
    if n > 4 * size:
        pool = torch.randperm(n, generator=gen)[: 4 * size]
    x = features[pool].float()
    if x.shape[1] > projection_dim:
        proj = torch.randn(x.shape[1], projection_dim, generator=gen) / projection_dim**0.5
        x = x @ proj
    sq = (x * x).sum(1)
    first = int(torch.randint(len(pool), (1,), generator=gen))
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = first
    min_d = sq - 2.0 * torch.mv(x, x[first]) + sq[first]
    for i in range(1, size):
        j = int(torch.argmax(min_d))
        chosen[i] = j
        torch.minimum(min_d, sq - 2.0 * torch.mv(x, x[j]) + sq[j], out=min_d)
    return pool[chosen]


def random_subset(n: int, size: int, seed: int = 0) -> torch.Tensor:
    if size >= n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:size]
