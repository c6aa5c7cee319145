"""The products (recipes) as the station controller needs them, read from the database: names, build requests
(references, where the built model is saved), the camera settings of each recipe, the shift's counts and the
last parts recorded."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import ImageReadError
from core.imageio import load_image
from core.settings import DecoderSettings
from db.records import HistoryFilter
from line.events import PartSummary
from line.outcome import ProductRequest, ReferenceSource
from line.recent_parts import thumbnail

log = logging.getLogger(__name__)

MODELS_FOLDER = "models"  # same place as db/cli/product_cmd.py and the window: a product built once is reused
CACHE_FOLDER = "cache"
CAMERA_SETTINGS = "camera"  # product settings key of the recipe's camera settings (exposure_us, gain_db)


def decoder_settings(product_settings: dict[str, Any]) -> DecoderSettings | None:
    """The product's own decoder settings (``settings["decoder"]`` in the database), else None (defaults)."""
    decoder = (product_settings or {}).get("decoder")
    return DecoderSettings.from_dict(decoder) if isinstance(decoder, dict) else None


def model_dir(data_dir: Path, product_id: int) -> Path:
    return Path(data_dir) / MODELS_FOLDER / f"product-{product_id}"


def product_request(database: Any, data_dir: Path, product_id: int) -> ProductRequest:
    """Build request of a stored product (raises the DatabaseError family)."""
    info = database.products.get(product_id)
    refs = database.references.list(product_id)
    return ProductRequest(
        product_id=product_id,
        name=info.name,
        references=tuple(
            ReferenceSource(label=r.original_name or f"reference #{r.id}", path=Path(r.image_file)) for r in refs
        ),
        cache_dir=Path(data_dir) / CACHE_FOLDER,
        model_dir=model_dir(data_dir, product_id),
        threshold_override=info.threshold_override,
        override_by=info.threshold_override_by,
        settings=decoder_settings(info.settings),
    )


class DatabaseCatalog:
    def __init__(self, database: Any, data_dir: Path) -> None:
        self.database = database
        self.data_dir = Path(data_dir)

    def names(self) -> dict[int, str]:
        return {p.id: p.name for p in self.database.products.list()}

    def request(self, product_id: int) -> ProductRequest:
        return product_request(self.database, self.data_dir, product_id)

    def camera_settings(self, product_id: int) -> dict[str, Any]:
        settings = self.database.products.get(product_id).settings or {}
        camera = settings.get(CAMERA_SETTINGS)
        return dict(camera) if isinstance(camera, dict) else {}

    def save_calibration(self, product_id: int, calibration: dict[str, Any]) -> None:
        self.database.products.save_calibration(product_id, calibration)

    def recent_parts(self, limit: int) -> list[PartSummary]:
        """The last ``limit`` recorded parts, newest first, as the filmstrip shows them (the thumbnail read from each
        row's image file; None where that file cannot be read)."""
        page = self.database.history.query(HistoryFilter(limit=max(0, int(limit)), newest_first=True))
        parts = []
        for r in page.records:
            try:
                small: Any = thumbnail(load_image(r.image_file))
            except (ImageReadError, OSError) as exc:  # the row stays in the filmstrip without its picture
                log.warning("no thumbnail for inspection %s: %s", r.id, exc)
                small = None
            parts.append(
                PartSummary(
                    inspection_id=int(r.id),
                    part_id=r.part_id,
                    product_id=int(r.product_id),
                    product_name=r.product_name,
                    verdict=r.verdict,
                    probability=float(r.probability),
                    inspected_at=r.time.timestamp(),
                    thumbnail=small,
                )
            )
        return parts

    def shift_counts(self, start: datetime, end: datetime) -> tuple[int, int]:
        counts = self.database.stats.reject_count(start=start, end=end)
        return counts.inspected, counts.rejected
