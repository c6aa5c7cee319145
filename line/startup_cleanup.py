"""What a station does to its data folder once at start, before its database writer runs (both faces: the
window, desktop/app.py, and the headless line runner, line/runner.py).

Files of the image store that no row refers to (a crash between a file and its row) are moved to the
quarantine folder (db/orphan_files.py), except those of inspections still waiting in the unsaved folder: the
replay of those entries needs them (and would write them again anyway).

Temporary files of the store that a kill left in the middle of a write (``.tmp-*.part``) go too: ``Database.open``
removes only those older than an hour, since a CLI tool may be writing one; at the station's start, before its
writer, one untouched for ``STALE_TEMP_S`` is abandoned (a write in progress changes its file all the time).

Then the unsaved folder reserves its space (line/unsaved_spool.py): a disk that fills up during the shift still
has room to keep what waits for the database when the station closes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from db.image_store import encode_png, sha256_bytes
from db.orphan_files import OrphanSweep, quarantine_orphan_files
from line.heatmap_png import heatmap_png
from line.unsaved_spool import UnsavedSpool

log = logging.getLogger(__name__)

STALE_TEMP_S = 10.0


def unsaved_store_sha256s(spool: UnsavedSpool) -> set[str]:
    """SHA-256 of the image-store files the unsaved entries become once recorded (their frame and heatmap, as the
    database writers store them: the frame as is, the heatmap as line/heatmap_png.py encodes it)."""
    out: set[str] = set()
    for path in spool.entries():
        outcome = spool.load(path)
        if outcome is None:
            continue  # quarantined, with a log line
        out.add(sha256_bytes(encode_png(outcome.frame.image)))
        out.add(sha256_bytes(heatmap_png(outcome)))
    return out


def prepare_data_folder(database: Any, spool: UnsavedSpool, *, started_at: float | None = None) -> OrphanSweep:
    """Run the start-up clean-up of ``database``'s image store, then reserve the unsaved folder's space.
    ``started_at``: the station's start (``time.time()``); files written after it are never touched."""
    start = time.time() if started_at is None else started_at
    removed = database.store.remove_stale_temp_files(older_than_s=STALE_TEMP_S)
    if removed:
        log.warning("image store clean-up: %d temporary file(s) of interrupted writes removed", removed)
    sweep = quarantine_orphan_files(database.engine, database.store, before=start, keep=unsaved_store_sha256s(spool))
    spool.reserve_space()
    return sweep
