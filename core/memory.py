"""In-context memory of a product: patch features of its normal references.

Built once per product (optionally with flips and 90-degree rotations of the references), bounded in size, and
cached on disk keyed by the encoder id, the decoder settings and the references' SHA-256 so a restart does not
recompute it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_open
from core.coreset import greedy_coreset
from core.encoder import Encoder
from core.errors import Cancelled, InspectionError, ReferencesError
from core.preprocess import working_image
from core.settings import DecoderSettings

Progress = Callable[[float, str], None]


def image_hash(image: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def augment_views(image: np.ndarray, augment: Sequence[str]) -> list[np.ndarray]:
    views = [image]
    if "flip" in augment:
        views += [image[:, ::-1], image[::-1, :]]
    if "rot90" in augment:
        views += [np.rot90(image, k) for k in (1, 2, 3)]
    return [np.ascontiguousarray(v) for v in views]


@dataclass
class MemoryBank:
    features: torch.Tensor  # (M, C) float32, unit-norm rows
    encoder_id: str
    key: str  # cache key: encoder + settings + reference hashes

    @property
    def nbytes(self) -> int:
        return int(self.features.numel() * self.features.element_size())

    def save(self, path: Path) -> None:
        with atomic_open(path) as fh:
            np.savez(
                fh,
                features=self.features.numpy().astype(np.float16),
                encoder_id=np.array(self.encoder_id),
                key=np.array(self.key),
            )

    @classmethod
    def load(cls, path: Path) -> MemoryBank:
        try:
            with np.load(path, allow_pickle=False) as z:
                feats = torch.from_numpy(z["features"].astype(np.float32))
                return cls(feats, str(z["encoder_id"]), str(z["key"]))
        except (OSError, KeyError, ValueError) as exc:
            raise InspectionError(f"{path}: memory bank file is unreadable ({exc}); it will be rebuilt") from None


def bank_key(encoder_id: str, settings: DecoderSettings, hashes: Sequence[str]) -> str:
    h = hashlib.sha256()
    h.update(encoder_id.encode())
    h.update(settings.key().encode())
    for x in sorted(hashes):
        h.update(x.encode())
    return h.hexdigest()[:24]


def patch_features(encoder: Encoder, image_working: np.ndarray) -> torch.Tensor:
    """(h, w, C) features of one working-resolution image."""
    f = encoder.features([image_working])[0]
    return f.permute(1, 2, 0).contiguous().cpu()


def view_grids(encoder: Encoder, reference: np.ndarray, settings: DecoderSettings) -> list[torch.Tensor]:
    """The (h, w, C) feature grid of each augmented view of one reference at the working resolution."""
    work = working_image(reference, settings)
    return [patch_features(encoder, v) for v in augment_views(work, settings.augment)]


def reference_patches(
    encoder: Encoder, reference: np.ndarray, settings: DecoderSettings, grids: Sequence[torch.Tensor] | None = None
) -> torch.Tensor:
    """One reference's share of the memory: its views' patches thinned to a greedy coreset (coreset_ratio of
    them, at most reference_cap). ``grids``: its :func:`view_grids`, when the caller has them already.

    Thinning each reference on its own keeps the cost linear in the number of references, and lets the
    leave-one-out calibration assemble memories from the same per-reference pieces.
    """
    if grids is None:
        grids = view_grids(encoder, reference, settings)
    feats = torch.cat([g.flatten(0, 1) for g in grids])
    size = max(1, min(settings.reference_cap, round(feats.shape[0] * min(1.0, settings.coreset_ratio))))
    return feats if size >= feats.shape[0] else feats[greedy_coreset(feats, size)]


def cap_bank(feats: torch.Tensor, settings: DecoderSettings) -> torch.Tensor:
    """At most ``settings.bank_cap`` rows: the greedy coreset of the union when the references bring more."""
    return feats if feats.shape[0] <= settings.bank_cap else feats[greedy_coreset(feats, settings.bank_cap)]


def encode_references(
    encoder: Encoder,
    references: Sequence[np.ndarray],
    settings: DecoderSettings,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[torch.Tensor]:
    """Each reference's share of the memory (:func:`reference_patches`), in order."""
    pieces: list[torch.Tensor] = []
    total = len(references)
    for i, ref in enumerate(references):
        if cancel and cancel():
            raise Cancelled("building the reference memory was cancelled")
        pieces.append(reference_patches(encoder, ref, settings))
        if progress:
            progress((i + 1) / (total + 1), f"reference {i + 1}/{total} encoded")
    return pieces


def build_bank(
    encoder: Encoder,
    references: Sequence[np.ndarray],
    settings: DecoderSettings,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    cache_dir: Path | None = None,
    pieces: Sequence[torch.Tensor] | None = None,
) -> MemoryBank:
    """The product's memory; ``pieces`` are the references' shares when the caller has encoded them already."""
    if not references:
        raise ReferencesError("no normal reference images: add at least one image of a good part")
    hashes = [image_hash(r) for r in references]
    key = bank_key(encoder.id, settings, hashes)
    cache_file = Path(cache_dir) / f"bank-{key}.npz" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        try:
            bank = MemoryBank.load(cache_file)
            if bank.key == key and bank.encoder_id == encoder.id:
                if progress:
                    progress(1.0, "memory bank loaded from cache")
                return bank
        except InspectionError:
            pass  # unreadable cache: rebuild below
    if pieces is None:
        pieces = encode_references(encoder, references, settings, progress, cancel)
    total = len(references)
    feats = torch.cat(list(pieces), 0)
    if feats.shape[0] > settings.bank_cap and progress:
        progress(total / (total + 1), f"reducing {feats.shape[0]} patches to {settings.bank_cap}")
    feats = cap_bank(feats, settings)
    bank = MemoryBank(feats.contiguous(), encoder.id, key)
    if cache_file is not None:
        try:
            bank.save(cache_file)
        except OSError:
            pass  # a cache that cannot be written only costs time on the next start
    if progress:
        progress(1.0, f"memory bank ready ({bank.features.shape[0]} patches, {bank.nbytes / 1e6:.1f} MB)")
    return bank
