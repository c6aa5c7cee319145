"""The learned feature adaptor: a linear map of the encoder's patch features, then renormalised.

It was trained (tools/adaptor_study.py) on simulated defects of the shared categories so that a normal part's
patches lie near another normal part's patches of the same product and a simulated defect's patches lie far from
them: AnomalyGPT's idea of a decoder trained on other products' simulated anomalies and applied to new ones, at
this machine's size. It is chosen and validated leave-one-category-out (docs/benchmarks.md, "A learned feature
adaptor"; ADR 0010). It ships in resources/adaptor/<encoder>.npy with its manifest beside it; an encoder without a
shipped adaptor (Lite1, Lite2) gives its plain features. ``$INSPECTION_ADAPTOR`` names another .npy file, or
``none`` for the plain features (studies, comparisons).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import ModelLoadError

ADAPTOR_ROOT = Path(__file__).resolve().parents[1] / "resources" / "adaptor"
ADAPTOR_ENV = "INSPECTION_ADAPTOR"


@dataclass(frozen=True)
class FeatureAdaptor:
    weight: torch.Tensor  # (C, D): channels in, channels out
    digest: str  # of the weights, part of the encoder's id: products built without it are rebuilt

    def apply(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) unit features -> (B, D, h, w) unit features."""
        w = self.weight.to(features.device, features.dtype)
        return F.normalize(torch.einsum("bchw,cd->bdhw", features, w), dim=1)


def adaptor_path(encoder_name: str) -> Path | None:
    """The adaptor file the encoder ``encoder_name`` uses: $INSPECTION_ADAPTOR where set (None for "none"), else
    the shipped one where there is one."""
    override = os.environ.get(ADAPTOR_ENV, "").strip()
    if override.lower() == "none":
        return None
    if override:
        return Path(override)
    shipped = ADAPTOR_ROOT / f"{encoder_name}.npy"
    return shipped if shipped.is_file() else None


def load_adaptor(path: Path, channels: int) -> FeatureAdaptor:
    """The adaptor in ``path`` (a 2-D float .npy of ``channels`` rows); a missing, damaged or mismatched file is a
    load error that says what to do."""
    fix = f"reinstall the station, or set {ADAPTOR_ENV}=none to run on the plain features"
    try:
        raw = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelLoadError(f"feature adaptor {path} not found: {fix}") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"feature adaptor {path} is unreadable ({exc}): {fix}") from None
    if raw.ndim != 2 or raw.shape[0] != channels or raw.shape[1] < 1 or raw.dtype.kind != "f":
        raise ModelLoadError(
            f"feature adaptor {path} is a {raw.dtype} array of shape {raw.shape}, the encoder needs {channels} rows "
            f"of floats: {fix}"
        )
    if not np.isfinite(raw).all():
        raise ModelLoadError(f"feature adaptor {path} holds non-finite values: {fix}")
    weight = np.ascontiguousarray(raw, dtype=np.float32)
    return FeatureAdaptor(torch.from_numpy(weight), hashlib.sha256(weight.tobytes()).hexdigest()[:8])
