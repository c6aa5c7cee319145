"""A product (recipe) as the inspector sees it: its memory bank, decoder settings and calibration."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.atomic import atomic_open
from core.calibration import HELD_OUT_METHOD, Calibration
from core.errors import InspectionError
from core.memory import MemoryBank
from core.own_map import OwnMap
from core.settings import DecoderSettings

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ProductModel:
    name: str
    settings: DecoderSettings
    bank: MemoryBank
    calibration: Calibration
    reference_hashes: tuple[str, ...]
    encoder_id: str
    info: dict[str, Any] = field(default_factory=dict)
    own_map: OwnMap | None = None  # fitted on the product's own parts (core/own_map.py); None = shipped features

    @property
    def adapted_parts(self) -> int:
        """How many of its own parts the product's features were fitted on (0: the shipped features)."""
        return self.own_map.parts if self.own_map is not None else 0

    @property
    def n_references(self) -> int:
        return len(self.reference_hashes)

    @property
    def calibration_current(self) -> bool:
        """Calibrated by this version of the rule. Products with many references saved before they had their own
        method (version 4) carry the leave-one-out method name, so their held-out count tells them apart."""
        if self.info.get("held_out") and self.calibration.method != HELD_OUT_METHOD:
            return False
        return self.calibration.current

    def with_threshold_override(self, threshold: float | None, by: str = "operator") -> ProductModel:
        return replace(self, calibration=self.calibration.with_override(threshold, by))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "settings": self.settings.to_dict(),
            "calibration": self.calibration.to_dict(),
            "reference_hashes": list(self.reference_hashes),
            "encoder_id": self.encoder_id,
            "bank_key": self.bank.key,
            "bank_patches": int(self.bank.features.shape[0]),
            "bank_bytes": self.bank.nbytes,
            "info": self.info,
            "own_map": self.own_map.info() if self.own_map is not None else None,
        }

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write bank.npz and product.json (each atomically; product.json last, so it never points nowhere)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.bank.save(folder / "bank.npz")
        if self.own_map is not None:
            self.own_map.save(folder)
        with atomic_open(folder / "product.json", "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=1)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> ProductModel:
        folder = Path(folder)
        meta_file = folder / "product.json"
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InspectionError(f"{meta_file}: no saved product model here") from None
        except (OSError, ValueError) as exc:
            raise InspectionError(f"{meta_file}: unreadable product model ({exc}); rebuild the references") from None
        if meta.get("format") != FORMAT_VERSION:
            raise InspectionError(f"{meta_file}: product model format {meta.get('format')} is not supported; rebuild")
        bank = MemoryBank.load(folder / "bank.npz")
        if bank.key != meta.get("bank_key"):
            raise InspectionError(f"{folder}: memory bank does not belong to this product model; rebuild")
        own_map = OwnMap.load(folder) if meta.get("own_map") else None
        if meta.get("own_map") and (own_map is None or own_map.digest != meta["own_map"].get("digest")):
            raise InspectionError(f"{folder}: the product's own map is not the one its model was built with; rebuild")
        return cls(
            name=meta["name"],
            settings=DecoderSettings.from_dict(meta["settings"]),
            bank=bank,
            calibration=Calibration.from_dict(meta["calibration"]),
            reference_hashes=tuple(meta["reference_hashes"]),
            encoder_id=meta["encoder_id"],
            info=dict(meta.get("info", {})),
            own_map=own_map,
        )
