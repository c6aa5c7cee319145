"""Inspections the database could not take before the window closed, kept on disk until it can.

Each waiting outcome (frame, result, heatmap) is written atomically to ``<data dir>/unsaved/<name>.pkl``; the next
start hands them to the database writer again and removes each file once its row exists. Files are this station's
own, in its own data folder.
"""
from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path

from core.atomic import atomic_open

log = logging.getLogger(__name__)


class UnsavedSpool:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def put(self, outcomes: list[object]) -> list[Path]:
        """Write each outcome to its own file; returns the files written (a failure is logged, not raised)."""
        written: list[Path] = []
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for i, outcome in enumerate(outcomes):
            path = self.folder / f"{stamp}-{i:04d}.pkl"
            try:
                with atomic_open(path) as fh:
                    pickle.dump(outcome, fh, protocol=pickle.HIGHEST_PROTOCOL)
                written.append(path)
            except OSError as exc:
                log.error("could not keep an unsaved inspection in %s: %s", self.folder, exc)
        return written

    def pending(self) -> list[tuple[Path, object]]:
        """Outcomes waiting from an earlier run, oldest first; unreadable files are renamed *.bad and skipped."""
        if not self.folder.is_dir():
            return []
        out: list[tuple[Path, object]] = []
        for path in sorted(self.folder.glob("*.pkl")):
            try:
                with path.open("rb") as fh:
                    out.append((path, pickle.load(fh)))
            except Exception as exc:  # noqa: BLE001 - a damaged file must not stop the station
                log.error("unsaved inspection %s is unreadable (%s); kept as %s.bad", path.name, exc, path.name)
                try:
                    path.rename(path.with_suffix(".pkl.bad"))
                except OSError:
                    pass
        return out

    @staticmethod
    def done(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
