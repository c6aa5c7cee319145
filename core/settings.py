"""Settings of the anomaly decoder, chosen per product and stored with it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DecoderSettings:
    resolution: int = 0  # working size: the frame is resized (aspect kept) to about resolution x resolution;
    # 0 = chosen per product from its references when it is built (core.inspector.resolve_settings)
    augment: tuple[str, ...] = ("flip", "rot90")  # bank augmentations of the references: "flip", "rot90"
    bank_cap: int = 16384  # most patches kept per product (greedy coreset above it)
    coreset_ratio: float = 0.25  # share of each reference's patches kept (greedy coreset); bank_cap over all
    reference_cap: int = 1536  # most patches one reference keeps (its coreset), so larger frames cost no more
    blur_sigma: float = 4.0  # Gaussian smoothing of the map, in working-resolution pixels
    self_similarity: bool = True  # also compare patches with distant patches of the same frame (textures)
    self_radius: float = 0.15  # ... outside a window of this share of the frame's long side around each patch
    reconstruct: int = 1  # a frame's patch is compared with the local affine span (ridge) of its this many nearest
    # memory patches instead of the nearest one alone; 1 = the plain nearest-patch distance (core.decoder.RIDGE;
    # measured in docs/benchmarks.md, "Reconstructing a patch from its nearest memory patches": not the default)
    top_fraction: float = 0.005  # image score = mean of the top fraction of map pixels
    edge_band: float = 0.06  # width of the frame's outer band, as a share of its long side, that self-calibration
    # may weight down where the product's normal maps run high along the edge (Calibration.edge_floor); 0 = never
    # (these defaults are the station's default method; core.evaluation.BASELINE_SETTINGS is the plain baseline)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["augment"] = list(self.augment)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecoderSettings:
        d = dict(d)
        d["augment"] = tuple(d.get("augment", ()))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    def key(self) -> str:
        return (
            f"r{self.resolution}-a{'+'.join(self.augment) or 'none'}-c{self.bank_cap}"
            f"-k{self.coreset_ratio:g}x{self.reference_cap}-s{int(self.self_similarity)}"
        )
