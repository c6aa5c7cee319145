"""Inspections the database could not take before the window closed, kept on disk until it can.

Each waiting outcome is kept as ``<data dir>/unsaved/<name>.json`` with its image files beside it (the format is
in line/spool_codec.py): the image files first, then the JSON, each written atomically (core/atomic.py), so an
entry exists only once all of its files are whole. The next start hands the entries to the database writer again
and removes each one once its row exists.

Nothing in the folder can run code: entries are read as JSON, PNG and NumPy arrays without pickle. What does not
parse, the loose files of an interrupted entry, and the ``*.pkl`` files of older versions (never unpickled: a
planted pickle runs code, so they are not migrated) are moved to ``unsaved/quarantine/`` with a log line; they are
never loaded or retried again.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import atomic_open
from db.errors import storage_error_for
from line.outcome import InspectionOutcome
from line.spool_codec import DATA_SUFFIXES, MAX_JSON_BYTES, SpoolFormatError, decode, encode

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
JSON_SUFFIX = ".json"


@dataclass
class SpoolWrite:
    """What ``put`` wrote: per outcome, its entry's JSON path, or None where it could not be written."""

    paths: list[Path | None] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    @property
    def written(self) -> int:
        return sum(p is not None for p in self.paths)

    @property
    def failed(self) -> int:
        return len(self.paths) - self.written

    def message(self) -> str:
        """The first failure in words for people ('' when everything was written)."""
        return str(self.errors[0]) if self.errors else ""


def _data_stem(name: str) -> str | None:
    for suffix in DATA_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


class UnsavedSpool:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._serial = 0

    @property
    def quarantine_folder(self) -> Path:
        return self.folder / QUARANTINE

    # -- writing ------------------------------------------------------------------------------------------------
    def put(self, outcomes: list[InspectionOutcome]) -> SpoolWrite:
        """Write each outcome as its own entry. A failure (full disk, read-only folder) is logged and reported in
        the returned ``SpoolWrite``, never raised; an entry that failed leaves no file behind."""
        report = SpoolWrite()
        for outcome in outcomes:
            stem = self._new_stem()
            written: list[Path] = []
            try:
                encoded = encode(outcome)
                for suffix, data in encoded.files.items():
                    self._write(self.folder / (stem + suffix), data, written)
                self._write(self.folder / (stem + JSON_SUFFIX), encoded.document, written)  # last: the entry exists
            except OSError as exc:
                self._remove(written)
                error = storage_error_for(exc, "an unsaved inspection", self.folder)
                log.error("could not keep an unsaved inspection in %s: %s", self.folder, error)
                report.paths.append(None)
                report.errors.append(error)
                continue
            except ValueError as exc:  # an outcome the format cannot hold (wrong pixel type)
                self._remove(written)
                log.error("could not keep an unsaved inspection in %s: %s", self.folder, exc)
                report.paths.append(None)
                report.errors.append(exc)
                continue
            report.paths.append(written[-1])
        return report

    def _new_stem(self) -> str:
        self._serial += 1
        return f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}-{self._serial:04d}"

    @staticmethod
    def _write(path: Path, data: bytes, written: list[Path]) -> None:
        with atomic_open(path) as fh:
            fh.write(data)
        written.append(path)

    @staticmethod
    def _remove(paths: list[Path]) -> None:
        for path in reversed(paths):
            try:
                path.unlink()
            except OSError:
                pass

    # -- reading back -------------------------------------------------------------------------------------------
    def entries(self) -> list[Path]:
        """The JSON files of the entries waiting from an earlier run, oldest first. Anything else in the folder
        (old pickle files, loose image files of an interrupted entry, foreign files) is quarantined on the way."""
        if not self.folder.is_dir():
            return []
        jsons: list[Path] = []
        data: dict[str, list[Path]] = {}
        for path in sorted(self.folder.iterdir()):
            name = path.name
            if path.is_symlink():
                self.quarantine(path, "is a symbolic link, which this station never writes")
            elif path.is_dir():
                continue  # the quarantine folder
            elif name.startswith(".") and name.endswith(".tmp"):
                self._remove([path])  # a write interrupted by a crash: never a whole file
            elif ".pkl" in name:
                self.quarantine(
                    path,
                    "is a pickle file of an older station version; it is never unpickled (a pickle can run code), "
                    "so its inspection is not migrated",
                )
            elif name.endswith(JSON_SUFFIX):
                jsons.append(path)
            elif (stem := _data_stem(name)) is not None:
                data.setdefault(stem, []).append(path)
            else:
                self.quarantine(path, "is not a file of the unsaved-inspection spool")
        stems = {p.name[: -len(JSON_SUFFIX)] for p in jsons}
        for stem, paths in data.items():
            if stem not in stems:
                for path in paths:
                    self.quarantine(path, "belongs to an entry whose JSON was never written (interrupted)")
        return jsons

    def load(self, path: Path) -> InspectionOutcome | None:
        """The outcome of the entry ``path`` (its JSON); None when it does not parse (it is then quarantined)."""
        stem = path.name[: -len(JSON_SUFFIX)]
        try:
            if path.stat().st_size > MAX_JSON_BYTES:
                raise SpoolFormatError(f"the document is {path.stat().st_size} bytes, too large")
            document = path.read_bytes()
            files = {}
            for suffix in DATA_SUFFIXES:
                part = self.folder / (stem + suffix)
                if part.is_file():
                    files[suffix] = part.read_bytes()
            return decode(document, files)
        except (SpoolFormatError, OSError) as exc:
            self.quarantine_entry(path, f"does not parse ({exc})")
            return None

    def pending(self) -> list[tuple[Path, InspectionOutcome]]:
        """Every entry that parses, oldest first (the rest is quarantined)."""
        out = []
        for path in self.entries():
            outcome = self.load(path)
            if outcome is not None:
                out.append((path, outcome))
        return out

    def done(self, path: Path) -> None:
        """The entry's row exists: remove its JSON first (the entry is gone), then its image files."""
        stem = path.name[: -len(JSON_SUFFIX)]
        self._remove([self.folder / (stem + s) for s in DATA_SUFFIXES] + [path])

    # -- quarantine ---------------------------------------------------------------------------------------------
    def quarantine_entry(self, path: Path, reason: str) -> None:
        stem = path.name[: -len(JSON_SUFFIX)]
        self.quarantine(path, reason)
        for suffix in DATA_SUFFIXES:
            extra = self.folder / (stem + suffix)
            if extra.exists() or extra.is_symlink():
                self.quarantine(extra, f"belongs to the unparseable entry {path.name}")

    def quarantine(self, path: Path, reason: str) -> Path | None:
        """Move ``path`` into ``unsaved/quarantine/`` so it is never loaded or retried again."""
        target = self.quarantine_folder / path.name
        n = 1
        while target.exists() or target.is_symlink():
            target = self.quarantine_folder / f"{path.name}.{n}"
            n += 1
        try:
            self.quarantine_folder.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError as exc:
            log.error(
                "unsaved spool: %s %s, and could not be moved to %s (%s); it is skipped, never loaded",
                path.name,
                reason,
                self.quarantine_folder,
                exc,
            )
            return None
        log.error(
            "unsaved spool: %s %s; moved to %s, where it is never loaded or retried. Inspect or delete it.",
            path.name,
            reason,
            target,
        )
        return target
