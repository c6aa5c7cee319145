"""Files in the image store that no row refers to, moved out of the store at the station's start.

``db/inspections.py`` and ``db/references.py`` write the files first and the row after, so a crash (``kill -9``,
power loss) between the two leaves a complete, correctly named file that no row refers to. Such a file is never
a wrong record, only lost space, but nothing else would ever remove it. ``quarantine_orphan_files`` runs once at
the start of a station (desktop window or line runner), before its database writer starts:

- it looks only at final store files (``<sha[:2]>/<sha><suffix>``) last written before ``before`` minus
  ``min_age_s`` (the start; temporary files are ``ImageStore.remove_stale_temp_files``'s business) and not listed
  in ``keep`` (the files of inspections still waiting in the unsaved folder);
- a file is an orphan when no inspection (image or heatmap) and no reference image row names its store path;
- orphans are **moved**, never deleted, to ``<data dir>/quarantine/images/`` with one log line each (and a
  summary); after the move the rows are read again and any file a row names by then (a CLI tool that committed
  its row meanwhile) is moved back, and so is any quarantined file a row names at a later start;
- when the database cannot be read, nothing is moved.

The work is bounded: a marker (``<store>/.orphan-sweep``) keeps the time up to which the store was checked, so a
start looks only at the shards changed since (minus a margin for clocks), and the rows are read as one stream
keeping only the paths that are candidates (memory grows with the candidates, not with the history).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from core.atomic import fsync_dir, write_text_atomic

from .errors import DatabaseError, translate
from .image_store import KNOWN_SUFFIXES, ImageStore
from .models import Inspection, ReferenceImage

log = logging.getLogger(__name__)

QUARANTINE_FOLDER = ("quarantine", "images")
MARKER = ".orphan-sweep"
MARGIN_S = 600.0  # files this much older than the last sweep's cut-off are looked at again (clock steps, renames)
_NAME = re.compile(r"^([0-9a-f]{64})(" + "|".join(re.escape(s) for s in KNOWN_SUFFIXES) + r")$")
_LOGGED = 20  # one line per file for the first ones, then only the summary


@dataclass
class OrphanSweep:
    """What a sweep did: files looked at, moved to the quarantine folder, moved back, kept, failed to move."""

    looked_at: int = 0
    moved: list[Path] = field(default_factory=list)  # where each orphan is now
    restored: list[str] = field(default_factory=list)  # store paths moved back (a row names them)
    kept: int = 0  # candidates kept because an unsaved inspection still needs them
    failed: int = 0
    skipped: str = ""  # why nothing was done ('' when the sweep ran)

    @property
    def quarantined(self) -> int:
        return len(self.moved)


def quarantine_folder_of(store: ImageStore) -> Path:
    return store.root.parent.joinpath(*QUARANTINE_FOLDER)


def _read_marker(store: ImageStore) -> float | None:
    try:
        data = json.loads((store.root / MARKER).read_text(encoding="utf-8"))
        value = float(data["checked_before"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if value > 0 else None


def _write_marker(store: ImageStore, checked_before: float) -> None:
    path = store.root / MARKER
    try:
        write_text_atomic(path, json.dumps({"checked_before": checked_before}))
    except OSError as exc:  # the next start looks at more files; nothing else depends on it
        log.warning("image store clean-up: could not write %s (%s)", path, exc)


def _candidates(store: ImageStore, since: float | None, cutoff: float) -> dict[str, Path]:
    """Store path -> file, for the final files last written in [since, cutoff)."""
    out: dict[str, Path] = {}
    if not store.root.is_dir():
        return out
    with os.scandir(store.root) as shards:
        for shard in shards:
            if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
                continue
            try:
                if since is not None and shard.stat().st_mtime < since:
                    continue  # nothing was created or renamed into this folder since the last sweep
                entries = list(os.scandir(shard.path))
            except OSError:
                continue
            for entry in entries:
                match = _NAME.match(entry.name)
                if match is None or match.group(1)[:2] != shard.name:
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                except OSError:
                    continue
                if mtime < cutoff and (since is None or mtime >= since):
                    out[f"{shard.name}/{entry.name}"] = Path(entry.path)
    return out


def _named_by_rows(engine: Engine, paths: Collection[str]) -> set[str]:
    """The paths of ``paths`` that an inspection or reference row names (one pass over the rows)."""
    wanted = set(paths)
    found: set[str] = set()
    if not wanted:
        return found
    queries = (
        select(Inspection.image_path, Inspection.heatmap_path),
        select(ReferenceImage.image_path),
    )
    try:
        with engine.connect() as conn:
            for query in queries:
                for row in conn.execution_options(yield_per=5000).execute(query):
                    for value in row:
                        if value in wanted:
                            found.add(value)
    except SQLAlchemyError as exc:
        raise translate(exc, action="read which images the rows use") from exc
    return found


def _move(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / src.name
    os.replace(src, target)  # same file system (both inside the data folder): atomic, never a copy
    return target


def _restore(rel: str, quarantined: Path, store: ImageStore) -> bool:
    target = store.root / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            quarantined.unlink()  # written again meanwhile (same content: same name)
        else:
            os.replace(quarantined, target)
            fsync_dir(target.parent)
    except OSError as exc:
        log.error("image store clean-up: could not move %s back to %s (%s)", quarantined, target, exc)
        return False
    log.warning("image store clean-up: %s is used by a row after all; moved back to %s", quarantined.name, target)
    return True


def _quarantined(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = _NAME.match(path.name)
            if match is not None and path.is_file():
                out[f"{path.name[:2]}/{path.name}"] = path
    return out


def quarantine_orphan_files(
    engine: Engine,
    store: ImageStore,
    *,
    before: float | None = None,
    min_age_s: float = 0.0,
    keep: Iterable[str] = (),
) -> OrphanSweep:
    """Move the image store's files that no row names into the quarantine folder (see the module's text).

    ``before``: the station's start (``time.time()``; default now); only files written before it minus
    ``min_age_s`` are looked at. ``keep``: SHA-256 of files never to move (inspections still unsaved). Call it
    before the station's own writer starts, never from a tool that runs beside a writing station."""
    cutoff = (time.time() if before is None else float(before)) - max(0.0, float(min_age_s))
    report = OrphanSweep()
    previous = _read_marker(store)
    since = None if previous is None else previous - MARGIN_S
    candidates = _candidates(store, since, cutoff)
    keep_set = {k.lower() for k in keep}
    kept = {rel for rel in candidates if rel[3:67] in keep_set}
    report.kept = len(kept)
    marker = cutoff
    for rel in kept:
        try:  # looked at again next time: the unsaved entry may never become a row (quarantined there)
            marker = min(marker, candidates[rel].stat().st_mtime)
        except OSError:
            pass
        del candidates[rel]
    folder = quarantine_folder_of(store)
    if any(p.is_symlink() for p in (folder, folder.parent)):
        report.skipped = f"{folder} is a symbolic link; the clean-up moves files only inside the data folder"
        log.error("image store clean-up skipped: %s. Remove the link.", report.skipped)
        return report
    parked = _quarantined(folder)
    report.looked_at = len(candidates)
    try:
        named = _named_by_rows(engine, set(candidates) | set(parked))
    except DatabaseError as exc:
        report.skipped = f"the database could not be read ({exc}); no file was moved"
        log.warning("image store clean-up skipped: %s", report.skipped)
        return report
    for rel in sorted(set(parked) & named):
        if _restore(rel, parked[rel], store):
            report.restored.append(rel)
    orphans = sorted(set(candidates) - named)
    moved: dict[str, Path] = {}
    for rel in orphans:
        try:
            moved[rel] = _move(candidates[rel], folder)
        except OSError as exc:
            report.failed += 1
            log.error("image store clean-up: could not move %s to %s (%s); it stays", candidates[rel], folder, exc)
    if moved:
        try:  # a row committed while the files were moved (another program): put its file back at once
            late = _named_by_rows(engine, set(moved))
        except DatabaseError as exc:
            late = set(moved)
            log.error("image store clean-up: could not read the rows again (%s); moving every file back", exc)
        for rel in sorted(late):
            if _restore(rel, moved.pop(rel), store):
                report.restored.append(rel)
        for i, (rel, target) in enumerate(sorted(moved.items())):
            if i < _LOGGED:
                log.warning(
                    "image store clean-up: %s has no inspection or reference row (a crash between the file and "
                    "its row); moved to %s",
                    rel,
                    target,
                )
        report.moved = list(moved.values())
        log.warning(
            "image store clean-up: %d file(s) without a row moved to %s; nothing refers to them. Delete them to "
            "free the space, or keep them for inspection.",
            len(moved),
            folder,
        )
    if not report.failed:
        _write_marker(store, marker)
    return report


__all__ = ["MARKER", "OrphanSweep", "quarantine_folder_of", "quarantine_orphan_files"]
