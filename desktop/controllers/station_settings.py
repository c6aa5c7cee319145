"""What the station remembers between runs (source and product), as a small JSON file in the data folder."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from core.atomic import write_text_atomic

log = logging.getLogger(__name__)
SETTINGS_FILE = "station-settings.json"


@dataclass
class StationSettings:
    source: str | None = None  # source spec (line/capture/spec.py); None: no camera configured yet
    product_id: int | None = None
    path: Path | None = None

    @classmethod
    def load(cls, data_dir: Path) -> StationSettings:
        path = Path(data_dir) / SETTINGS_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", path, exc)
            return cls(path=path)
        product = raw.get("product_id")
        source = raw.get("source")
        return cls(
            source=source if isinstance(source, str) and source else None,
            product_id=product if isinstance(product, int) else None,
            path=path,
        )

    def save(self) -> bool:
        """Write atomically; False (and a log line) when the folder is not writable: settings are a convenience."""
        if self.path is None:
            return False
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        try:
            write_text_atomic(self.path, json.dumps(data, indent=1), prefix=".settings-", suffix=".json")
        except OSError as exc:
            log.warning("could not save %s: %s", self.path, exc)
            return False
        return True
