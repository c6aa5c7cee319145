"""Where the station keeps what it can make again: converted models (the chat model as safetensors, the encoder as
OpenVINO IR). ``$INSPECTION_CACHE_DIR`` or the user's cache folder."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    override = os.environ.get("INSPECTION_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("inspection-station"))
