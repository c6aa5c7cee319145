"""Inspections the database could not take before the window closed, kept on disk until it can.

Each waiting outcome is kept as ``<data dir>/unsaved/<name>.json`` with its image files beside it (the format is
in line/spool_codec.py): the image files first, then the JSON, each written atomically (core/atomic.py), so an
entry exists only once all of its files are whole. The next start hands the entries to the database writer again
and removes each one once its row exists.

Nothing in the folder can run code: entries are read as JSON, PNG and NumPy arrays without pickle. What does not
parse, the loose files of an interrupted entry, and the ``*.pkl`` files of older versions (never unpickled: a
planted pickle runs code, so they are not migrated) are moved to ``unsaved/quarantine/`` with a log line; they are
never loaded or retried again.

A disk that fills up during the shift must not take what waits for the database with it at the close: the
start-up (line/startup_cleanup.py) reserves ``reserve_bytes`` in ``unsaved/.space-reserve`` (allocated blocks,
not a sparse file). When an entry cannot be written because the disk is full, the reserve is released (one log
line) and the entry written again into the space it held; what still does not fit is reported as not kept,
never as kept. The next start takes the reserve again.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import atomic_open
from db.errors import storage_error_for
from line.outcome import InspectionOutcome
from line.spool_codec import DATA_SUFFIXES, MAX_JSON_BYTES, EncodedOutcome, SpoolFormatError, decode, encode

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
JSON_SUFFIX = ".json"
RESERVE_NAME = ".space-reserve"
# About 140 entries of the demo camera's 320 x 320 frames (0.48 MB each: frame 116 kB, heatmap 34 kB, anomaly map
# 325 kB); a camera with larger frames keeps fewer of them in the reserve.
DEFAULT_RESERVE_BYTES = 64 * 1024 * 1024
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_ZEROS = bytes(1 << 20)


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


def _allocate(fd: int, size: int) -> None:
    """Give the open file ``size`` bytes of real disk blocks (fallocate, else zeros written)."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    os.lseek(fd, 0, os.SEEK_SET)
    left = size
    while left > 0:
        left -= os.write(fd, _ZEROS[: min(left, len(_ZEROS))])


class UnsavedSpool:
    def __init__(self, folder: Path, reserve_bytes: int = DEFAULT_RESERVE_BYTES) -> None:
        self.folder = Path(folder)
        self.reserve_bytes = max(0, int(reserve_bytes))
        self.reserve_released = False  # the reserve was given up for entries this run
        self._serial = 0

    @property
    def quarantine_folder(self) -> Path:
        return self.folder / QUARANTINE

    @property
    def reserve_path(self) -> Path:
        return self.folder / RESERVE_NAME

    # -- space held for a full disk -----------------------------------------------------------------------------
    def reserve_space(self) -> bool:
        """Hold ``reserve_bytes`` of the folder's disk in the reserve file; True when it is in place. A failure
        (the disk already full, a read-only folder) is logged, never raised."""
        if not self.reserve_bytes:
            return False
        path = self.reserve_path
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            st = path.stat() if path.is_file() else None
            if st is not None and st.st_size >= self.reserve_bytes and st.st_blocks * 512 >= self.reserve_bytes:
                return True
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                _allocate(fd, self.reserve_bytes)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self._remove([path])
            log.warning(
                "could not reserve %.0f MB in %s for inspections waiting at close (%s); if the disk fills up, "
                "inspections not yet saved may be lost when the station closes",
                self.reserve_bytes / 1e6,
                self.folder,
                storage_error_for(exc, "the space reserve", self.folder),
            )
            return False
        return True

    def _release_reserve(self) -> bool:
        """Free the reserve for the entries that must be kept now; True when there was one to free."""
        try:
            size = self.reserve_path.stat().st_size
            self.reserve_path.unlink()
        except OSError:
            return False
        self.reserve_released = True
        log.warning(
            "the disk of %s is full: released the %.0f MB reserved there to keep the unsaved inspections",
            self.folder,
            size / 1e6,
        )
        return True

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
                try:
                    self._write_entry(stem, encoded, written)
                except OSError as exc:
                    if exc.errno not in _DISK_FULL or not self._release_reserve():
                        raise
                    self._write_entry(stem, encoded, written)  # into the space the reserve held
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

    def _write_entry(self, stem: str, encoded: EncodedOutcome, written: list[Path]) -> None:
        self._remove(written)
        written.clear()
        for suffix, data in encoded.files.items():
            self._write(self.folder / (stem + suffix), data, written)
        self._write(self.folder / (stem + JSON_SUFFIX), encoded.document, written)  # last: the entry exists

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
            if name == RESERVE_NAME and not path.is_symlink():
                continue  # the space held for a full disk
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
