"""Bounding a memory bank: greedy k-center coreset (PatchCore-style) on a random projection."""
from __future__ import annotations

import torch


def greedy_coreset(features: torch.Tensor, size: int, seed: int = 0, projection_dim: int = 64) -> torch.Tensor:
    """Indices of ``size`` rows of ``features`` that cover the set well (each step adds the farthest point)."""
    n = features.shape[0]
    if size >= n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    # Pre-thin very large sets at random: the greedy pass is O(n * size).
    pool = torch.arange(n)
    if n > 8 * size:
        pool = torch.randperm(n, generator=gen)[: 8 * size]
    x = features[pool].float()
    if x.shape[1] > projection_dim:
        proj = torch.randn(x.shape[1], projection_dim, generator=gen) / projection_dim**0.5
        x = x @ proj
    first = int(torch.randint(len(pool), (1,), generator=gen))
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = first
    min_d = ((x - x[first]) ** 2).sum(1)
    for i in range(1, size):
        j = int(torch.argmax(min_d))
        chosen[i] = j
        min_d = torch.minimum(min_d, ((x - x[j]) ** 2).sum(1))
    return pool[chosen]


def random_subset(n: int, size: int, seed: int = 0) -> torch.Tensor:
    if size >= n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:size]
