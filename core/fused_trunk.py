"""Inference-only copy of an EfficientNet-Lite trunk with batch norm folded into the convolutions.

Frozen weights never change, so each convolution and the batch norm after it collapse into one convolution with a
bias. That removes a third of the per-layer passes over memory (about a quarter of the encoder's time on a CPU)
and gives the same features to within float rounding (tests/core/test_encoder.py checks this).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def fold_batch_norm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of one convolution equivalent to ``bn(conv(x))`` in eval mode."""
    if bn.running_var is None or bn.running_mean is None:
        raise ValueError("batch norm without running statistics cannot be folded")
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.reshape(-1, 1, 1, 1)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return weight.detach().contiguous(), bias.detach().contiguous()


def pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow 'SAME' padding, as the Lite weights were trained with."""
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / stride) - 1) * stride + kernel - ih, 0)
    pw = max((math.ceil(iw / stride) - 1) * stride + kernel - iw, 0)
    if ph or pw:
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
    return x


def pad_even(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """:func:`pad_same` for inputs whose sides are even, as every stage's are when the frame's sides are multiples
    of 16 (what :class:`core.encoder.Encoder` asks for). It reads no shape, so a traced copy (core/openvino_encoder.py)
    takes frames of any such size."""
    total = kernel - 1 if stride == 1 else max(kernel - stride, 0)
    if total == 0:
        return x
    return F.pad(x, [total // 2, total - total // 2, total // 2, total - total // 2])


Pad = Callable[[torch.Tensor, int, int], torch.Tensor]
Conv = tuple[torch.Tensor, torch.Tensor]  # a folded convolution: weight, bias


@dataclass(frozen=True)
class _Block:
    expand: Conv | None
    depthwise: Conv
    project: Conv
    kernel: int
    stride: int
    groups: int
    skip: bool


def _as_int(v: int | tuple[int, ...]) -> int:
    return int(v if isinstance(v, int) else v[0])


class FusedTrunk:
    """The stem and the first blocks of a loaded EfficientNet-Lite, folded; returns the tapped block outputs."""

    def __init__(self, model: Any, taps: tuple[int, ...]):  # an EfficientNet-Lite (lukemelas layout)
        if not isinstance(model._swish, nn.ReLU6):
            raise ValueError("only the Lite variants (ReLU6, no squeeze-excitation) can be folded")
        self.taps = tuple(taps)
        self.stem = fold_batch_norm(model._conv_stem, model._bn0)
        self.stem_stride = _as_int(model._conv_stem.stride)
        self.stem_kernel = _as_int(model._conv_stem.kernel_size)
        self.blocks: list[_Block] = []
        for block in list(model._blocks)[: self.taps[-1] + 1]:
            if block.has_se:
                raise ValueError("squeeze-excitation blocks are not folded")
            args = block._block_args
            stride = _as_int(args.stride)
            self.blocks.append(
                _Block(
                    expand=fold_batch_norm(block._expand_conv, block._bn0) if args.expand_ratio != 1 else None,
                    depthwise=fold_batch_norm(block._depthwise_conv, block._bn1),
                    project=fold_batch_norm(block._project_conv, block._bn2),
                    kernel=_as_int(args.kernel_size),
                    stride=stride,
                    groups=block._depthwise_conv.groups,
                    skip=bool(block.id_skip and stride == 1 and args.input_filters == args.output_filters),
                )
            )

    @property
    def tap_channels(self) -> tuple[int, ...]:
        """Channels of each tapped block's output."""
        return tuple(int(self.blocks[i].project[0].shape[0]) for i in self.taps)

    def to(self, device: torch.device) -> FusedTrunk:
        def move(p: Conv) -> Conv:
            return (p[0].to(device), p[1].to(device))

        self.stem = move(self.stem)
        self.blocks = [
            _Block(
                None if b.expand is None else move(b.expand),
                move(b.depthwise),
                move(b.project),
                b.kernel,
                b.stride,
                b.groups,
                b.skip,
            )
            for b in self.blocks
        ]
        return self

    def __call__(self, x: torch.Tensor, pad: Pad = pad_same) -> list[torch.Tensor]:
        h = F.relu6(F.conv2d(pad(x, self.stem_kernel, self.stem_stride), *self.stem, stride=self.stem_stride))
        out: list[torch.Tensor] = []
        for i, b in enumerate(self.blocks):
            y = h
            if b.expand is not None:
                y = F.relu6(F.conv2d(y, *b.expand))
            y = F.relu6(F.conv2d(pad(y, b.kernel, b.stride), *b.depthwise, stride=b.stride, groups=b.groups))
            y = F.conv2d(y, *b.project)
            h = y + h if b.skip else y
            if i in self.taps:
                out.append(h)
        return out
