"""Shared helpers: a prepared data folder (demo product built once), starting / killing the station process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tools.faults.station_proc import read_journal

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["QT_QPA_PLATFORM"] = "offscreen"
    e.setdefault("PYTHONUNBUFFERED", "1")
    return e


class StationProcess:
    """One run of tools/faults/station_proc.py (the real window) with its journal and log."""

    def __init__(
        self,
        data_dir: Path,
        journal: Path,
        log: Path,
        station_args: list[str] | None = None,
        stop_after: int = 0,
        auto: bool = True,
        chat_every: int | None = None,
        harness_args: list[str] | None = None,
    ) -> None:
        self.data_dir, self.journal, self.log = Path(data_dir), Path(journal), Path(log)
        args = [PYTHON, "-m", "tools.faults.station_proc", "--journal", str(journal)]
        # chat_every None: the chat's model is not loaded; 0: loaded and warm, never asked; N: asked every N parts
        args += ["--no-chat"] if chat_every is None else ["--chat-every", str(chat_every)]
        args += list(harness_args or [])  # more of tools/faults/station_proc.py's own options
        if stop_after:
            args += ["--stop-after", str(stop_after)]
        if not auto:
            args.append("--no-auto")
        args += ["--", "--data-dir", str(data_dir), "--demo", *list(station_args or [])]
        self._log_fh = open(log, "ab")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env(), stdout=self._log_fh, stderr=subprocess.STDOUT)
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def events(self, kind: str | None = None) -> list[dict]:
        return [e for _, k, e in read_journal(self.journal) if kind is None or k == kind]

    def run_events(self) -> list[tuple[str, dict]]:
        """The events of this process only (the journal may hold earlier runs)."""
        out, mine = [], False
        for _, k, e in read_journal(self.journal):
            if k == "process":
                mine = e.get("pid") == self.proc.pid
                continue
            if mine:
                out.append((k, e))
        return out

    def saved(self) -> list[dict]:
        return [e for k, e in self.run_events() if k == "saved"]

    def wait_for(self, predicate, timeout_s: float, poll_s: float = 0.1) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            if self.proc.poll() is not None:
                return predicate()
            time.sleep(poll_s)
        return False

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log_fh.close()

    def terminate(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM: the window closes as an operator would close it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            code = None
        self._log_fh.close()
        return code


def prepare_template(folder: Path) -> Path:
    """A data folder with the demo product built and calibrated (one short run of the station), copied for each
    scenario so that none pays for the build."""
    folder = Path(folder)
    if (folder / "station.sqlite3").is_file() and (folder / "models").is_dir():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    proc = StationProcess(folder, folder.parent / "template.journal", folder.parent / "template.log", stop_after=1)
    proc.proc.wait(600)
    proc._log_fh.close()
    if proc.proc.returncode not in (0, -6, 134) or not (folder / "models").is_dir():
        raise RuntimeError(f"the template station run failed ({proc.proc.returncode}); see {proc.log}")
    return folder


def fresh_data_dir(template: Path, target: Path) -> Path:
    """A copy of the template without its inspections' history (the product and its model stay)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target, symlinks=True)
    return target
