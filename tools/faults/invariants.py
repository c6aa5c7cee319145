"""The invariants checked after every fault (issue 15), read straight from the data folder with sqlite3 (no
station code in between, so a bug there cannot hide itself):

1. every inspection the station reported as saved (journal ``saved`` lines) has its row, and the row's ids of
   image and heatmap match what was reported;
2. every row's image and heatmap file exists and its bytes hash to the SHA-256 the row keeps (db/image_store.py);
3. no file in the image store without a row (inspection or reference), no temporary file left: checked after a
   start of the station (its start-up clean-up has run);
4. ``main.py audit verify`` exits 0;
5. the unsaved spool (``<data>/unsaved``) holds no entry after a restart (quarantine listed separately).
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Check:
    rows: int = 0
    reported: int = 0
    missing_rows: list[int] = field(default_factory=list)  # reported saved, no row
    wrong_rows: list[int] = field(default_factory=list)  # reported sha differs from the row's
    missing_files: list[str] = field(default_factory=list)
    bad_sha: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    spool: list[str] = field(default_factory=list)
    quarantine: list[str] = field(default_factory=list)
    quarantined_images: list[str] = field(default_factory=list)  # files without a row the start-up moved away
    audit_ok: bool | None = None
    audit_text: str = ""

    def problems(self, *, orphans: bool = True, spool: bool = True) -> list[str]:
        out = []
        if self.missing_rows:
            out.append(f"{len(self.missing_rows)} reported saved without a row: {self.missing_rows[:5]}")
        if self.wrong_rows:
            out.append(f"{len(self.wrong_rows)} rows differ from what was reported: {self.wrong_rows[:5]}")
        if self.missing_files:
            out.append(f"{len(self.missing_files)} files missing: {self.missing_files[:3]}")
        if self.bad_sha:
            out.append(f"{len(self.bad_sha)} SHA-256 mismatches: {self.bad_sha[:3]}")
        if orphans and self.orphans:
            out.append(f"{len(self.orphans)} files without a row: {self.orphans[:3]}")
        if orphans and self.temp_files:
            out.append(f"{len(self.temp_files)} temporary files left: {self.temp_files[:3]}")
        if spool and self.spool:
            out.append(f"{len(self.spool)} entries left in the unsaved spool")
        if self.quarantine:
            out.append(f"{len(self.quarantine)} entries quarantined")
        if self.audit_ok is False:
            out.append(f"audit verify failed: {self.audit_text}")
        return out


def check(data_dir: Path, saved: list[dict] | None = None, *, audit: bool = True, hashes: bool = True) -> Check:
    data_dir = Path(data_dir)
    c = Check()
    db = data_dir / "station.sqlite3"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute(
            "select id, image_path, image_sha256, heatmap_path, heatmap_sha256 from inspections"
        ).fetchall()
        refs = con.execute("select image_path, image_sha256 from reference_images").fetchall()
    finally:
        con.close()
    c.rows = len(rows)
    by_id = {r[0]: r for r in rows}
    for event in saved or []:
        c.reported += 1
        row = by_id.get(event["id"])
        if row is None:
            c.missing_rows.append(event["id"])
        elif "image" in event and (row[2] != event.get("image") or row[4] != event.get("heatmap")):
            c.wrong_rows.append(event["id"])
    images = data_dir / "images"
    known: dict[str, str] = {}
    for _id, ipath, isha, hpath, hsha in rows:
        known[ipath] = isha
        if hpath:
            known[hpath] = hsha
    for rpath, rsha in refs:
        known[rpath] = rsha
    verified: set[str] = set()
    for relpath, sha in known.items():
        path = images / relpath
        if not path.is_file():
            c.missing_files.append(relpath)
        elif hashes and relpath not in verified:
            verified.add(relpath)
            if sha256_file(path) != sha:
                c.bad_sha.append(relpath)
    if images.is_dir():
        for path in images.glob("??/*"):
            rel = path.relative_to(images).as_posix()
            if path.name.startswith(".tmp-"):
                c.temp_files.append(rel)
            elif rel not in known:
                c.orphans.append(rel)
    spool = data_dir / "unsaved"
    if spool.is_dir():
        c.spool = sorted(p.name for p in spool.iterdir() if p.is_file() and p.name != ".space-reserve")
        quarantine = spool / "quarantine"
        if quarantine.is_dir():
            c.quarantine = sorted(p.name for p in quarantine.iterdir())
    moved = data_dir / "quarantine" / "images"
    if moved.is_dir():
        c.quarantined_images = sorted(p.name for p in moved.iterdir())
    if audit:
        proc = subprocess.run(
            [PYTHON, "main.py", "audit", "verify", "--data-dir", str(data_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        c.audit_ok = proc.returncode == 0
        c.audit_text = (proc.stdout + proc.stderr).strip().splitlines()[-1:] and (
            proc.stdout + proc.stderr
        ).strip().splitlines()[-1]
    return c
