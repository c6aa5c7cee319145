"""The nearest-patch search's inner step: each query row's best similarity to a set of key rows.

The decoder (core/decoder.py) turns best similarities of unit rows into distances; this module only finds them.
Two implementations satisfy :class:`Similarity`: :class:`TorchSimilarity` (torch's own matrix product, on the
torch thread pool) and :class:`core.openvino_search.OpenVinoSimilarity` (the same product run by OpenVINO on its
own pool, beside the OpenVINO encoder; ADR 0008). Both return the same values to float rounding.
"""

from __future__ import annotations

from typing import Protocol

import torch

_ROWS = 256  # queries per block: a 256 x memory block of similarities stays in cache (about 25% faster)


class Similarity(Protocol):
    """``best(query, keys_t, bias)``: (n,) the largest entry of each row of ``query @ keys_t (+ bias)``."""

    name: str

    def best(self, query: torch.Tensor, keys_t: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """query (n, C), keys_t (C, m) contiguous, bias (n, m) or None; all float32 on the CPU."""
        ...

    def top(self, query: torch.Tensor, keys_t: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, k) the k largest entries of each row of ``query @ keys_t``, largest first, and their (n, k) int64
        column indices; k <= m."""
        ...


class TorchSimilarity:
    """Blocks of queries against all keys with torch (the torch thread pool)."""

    name = "torch"

    def best(self, query: torch.Tensor, keys_t: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        out = torch.empty(query.shape[0])
        for start in range(0, query.shape[0], _ROWS):  # blocks of queries keep the similarity block in cache
            block = query[start : start + _ROWS]
            sim = block @ keys_t if bias is None else torch.addmm(bias[start : start + _ROWS], block, keys_t)
            out[start : start + _ROWS] = sim.amax(dim=1)
        return out

    def top(self, query: torch.Tensor, keys_t: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        values = torch.empty(query.shape[0], k)
        indices = torch.empty(query.shape[0], k, dtype=torch.int64)
        for start in range(0, query.shape[0], _ROWS):
            best = (query[start : start + _ROWS] @ keys_t).topk(k, dim=1)
            values[start : start + _ROWS], indices[start : start + _ROWS] = best.values, best.indices
        return values, indices


TORCH_SIMILARITY = TorchSimilarity()
