"""Low-rank adapters on the attention's q and v projections, written out here (no peft dependency)."""

from __future__ import annotations

import math

import torch
from torch import nn

TARGETS = ("q_proj", "v_proj")


class LoRALinear(nn.Module):
    """``base(x) + scale * B(A(x))``; ``base`` stays frozen, B starts at zero so training starts from the LM."""

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float = 8.0):
        super().__init__()
        self.base = base
        self.rank = rank
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(
            torch.empty(rank, base.in_features, dtype=base.weight.dtype, device=base.weight.device)
        )
        self.lora_b = nn.Parameter(
            torch.zeros(base.out_features, rank, dtype=base.weight.dtype, device=base.weight.device)
        )
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale
        return out


def apply_lora(model: nn.Module, rank: int = 4, alpha: float = 8.0) -> dict[str, nn.Parameter]:
    """Wrap every q/v projection of ``model`` in place; returns the new trainable parameters by name."""
    params: dict[str, nn.Parameter] = {}
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in TARGETS and isinstance(child, nn.Linear):
                wrapped = LoRALinear(child, rank, alpha)
                setattr(module, child_name, wrapped)
                full = f"{name}.{child_name}" if name else child_name
                params[f"{full}.lora_a"] = wrapped.lora_a
                params[f"{full}.lora_b"] = wrapped.lora_b
    if not params:
        raise ValueError("the language model has no q_proj/v_proj linear layers to adapt")
    return params


def load_lora(model: nn.Module, state: dict[str, torch.Tensor], rank: int, alpha: float) -> None:
    """Wrap the model and load adapter weights saved by training (keys as returned by apply_lora)."""
    params = apply_lora(model, rank, alpha)
    missing = set(params) - set(state)
    if missing:
        raise ValueError(f"adapter weights missing for {len(missing)} layers")
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(state[k].to(p.dtype))
            p.requires_grad_(False)
