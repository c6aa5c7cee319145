"""The fault scenarios of issue 15. Each one drives the real station (tools/faults/station_proc.py: the window of
desktop/app.py in offscreen Qt, Auto on) or the real ``main.py inspect``, injects its fault and checks the
invariants (tools/faults/invariants.py). Results: ``<out>/results.json`` and one line per scenario on stdout.

    .venv/bin/python -m tools.faults run --scenario all --out out/faults [--kill-trials 60] [--camera-trials 50]

Needs root for the disk-full and read-only scenarios (tmpfs / bind mounts); nothing touches ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from line.unsaved_spool import DEFAULT_RESERVE_BYTES, RESERVE_NAME
from tools.faults.common import PYTHON, ROOT, StationProcess, env, fresh_data_dir, prepare_template
from tools.faults.invariants import check

RESERVE_KB = DEFAULT_RESERVE_BYTES // 1024

RESULTS: dict[str, dict] = {}


def _texts(station: StationProcess, kinds=("banner", "record_failed", "camera", "shutdown")) -> list[str]:
    """What the operator was shown (banner, database status), deduplicated, in order."""
    seen, out = set(), []
    for k, e in station.run_events():
        if k in kinds:
            text = f"{k}: " + (e.get("text") or e.get("message") or json.dumps(e))
            if text not in seen:
                seen.add(text)
                out.append(text)
    return out


def _record(name: str, trials: int, failures: int, saw: list[str], **extra) -> dict:
    RESULTS[name] = {"trials": trials, "failures": failures, "operator_saw": saw[:8], **extra}
    print(f"== {name}: trials {trials}, failures {failures}", flush=True)
    for line in saw[:8]:
        print(f"   {line[:300]}", flush=True)
    for k, v in extra.items():
        print(f"   {k}: {str(v)[:400]}", flush=True)
    return RESULTS[name]


def _restart_check(
    data: Path, journal: Path, log: Path, saved: list[dict], frames: int = 2
) -> tuple[object, list[str]]:
    """Start the station again (its start-up clean-up and spool replay run), let it save ``frames`` new frames,
    close it, and check every invariant."""
    station = StationProcess(data, journal, log, stop_after=frames)
    station.proc.wait(400)
    station._log_fh.close()
    all_saved = saved + station.saved()
    result = check(data, all_saved)
    return result, _texts(station)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")  # gone meanwhile (recorded, moved or renamed into place)


def _all_saved(journal: Path) -> list[dict]:
    from tools.faults.station_proc import read_journal

    return [e for _, k, e in read_journal(journal) if k == "saved"]


# -- kill -9 ----------------------------------------------------------------------------------------------------
def scenario_kill(out: Path, template: Path, trials: int, max_minutes: float, seed: int = 15) -> dict:
    rng = random.Random(seed)
    data = fresh_data_dir(template, out / "kill" / "data")
    journal, log = out / "kill" / "journal.txt", out / "kill" / "station.log"
    journal.unlink(missing_ok=True)
    failures, details, done = 0, [], 0
    orphans_after_start: list[int] = []
    deadline = time.monotonic() + max_minutes * 60
    delays = []
    cycle_s = 2.0  # the time between two saved parts, learned as the trials go
    from tools.faults.station_proc import read_journal

    for trial in range(trials):
        if time.monotonic() > deadline:
            break
        t_start = time.time()
        station = StationProcess(data, journal, log)
        if not station.wait_for(lambda: any(k == "auto" for k, _ in station.run_events()), 300):
            failures += 1
            details.append(f"trial {trial}: Auto never came on: {_texts(station)[-3:]}")
            station.kill9()
            continue
        # the start-up clean-up has run and the spool was replayed: nothing of the last kill may linger now
        pre = check(data, None, audit=False, hashes=False)
        # only files from before this start count: the station writes a part's frame while inspecting it
        left = [rel for rel in pre.orphans + pre.temp_files if _mtime(data / "images" / rel) < t_start]
        orphans_after_start.append(len(left))
        if pre.spool:
            failures += 1
            details.append(f"trial {trial}: {len(pre.spool)} spool entries after the restart")
        # a random moment of Auto: after 0-2 parts of this run were saved, at a random point of the next part's
        # cycle (the cycle time is measured on this machine, so kills land in inference, file writes and commits)
        wait_parts = rng.randint(0, 2)
        station.wait_for(lambda: len(station.saved()) >= wait_parts, 300, poll_s=0.02)
        delay = rng.uniform(0.0, cycle_s)
        delays.append(delay)
        time.sleep(delay)
        station.kill9()
        done += 1
        events = read_journal(journal)
        last_start = max(i for i, (_, k, _e) in enumerate(events) if k == "process")
        mine = [t for t, k, _e in events[last_start:] if k == "saved"]
        if len(mine) >= 2:
            cycle_s = 0.5 * cycle_s + 0.5 * float(np.median(np.diff(mine)))
        result = check(data, _all_saved(journal), audit=trial % 5 == 4, hashes=True)  # audit: every 5th and at the end
        problems = result.problems(orphans=False, spool=False)
        if problems:
            failures += 1
            details.append(f"trial {trial} (kill {delay:.2f} s after part {wait_parts}): {problems}")
    final, saw = _restart_check(data, journal, log, _all_saved(journal))
    problems = final.problems()
    if problems:
        details.append(f"after the final restart: {problems}")
    return _record(
        "kill -9 in Auto",
        done,
        failures + (1 if problems else 0),
        saw or ["(nothing: a kill shows no message)"],
        rows=final.rows,
        reported_saved=final.reported,
        orphans_after_next_start=sum(orphans_after_start),
        orphan_trials=sum(1 for n in orphans_after_start if n),
        quarantined_by_startup=len(final.quarantined_images),
        final_problems=problems,
        details=details[:10],
        kill_moment=f"after 0-2 saved parts, then uniform 0..cycle time (last cycle {cycle_s:.2f} s)",
    )


# -- disk full ----------------------------------------------------------------------------------------------------
def _mount_tmpfs(folder: Path, size_kb: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(folder)], check=True)


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path, leave_kb: int) -> Path:
    ballast = folder / "ballast.bin"
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    size = max(0, free - leave_kb * 1024)
    with open(ballast, "wb") as fh:
        fh.write(b"\0" * size)
    return ballast


def scenario_disk(out: Path, template: Path) -> list[dict]:
    results = []
    for variant in ("freed while running", "closed while full, freed, restarted"):
        base = out / "disk" / variant.split()[0]
        if base.exists():
            _umount(base / "data")
            shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        data = base / "data"
        used_kb = int(subprocess.run(["du", "-sk", str(template)], capture_output=True, text=True).stdout.split()[0])
        _mount_tmpfs(data, used_kb + 6 * 1024 + RESERVE_KB)
        try:
            shutil.copytree(template, data, dirs_exist_ok=True)
            journal, log = base / "journal.txt", base / "station.log"
            station = StationProcess(data, journal, log)
            # the disk fills up during the shift: after the start (which reserved the unsaved folder's space)
            station.wait_for(lambda: len(station.saved()) >= 2, 400)
            reserved = (data / "unsaved" / RESERVE_NAME).is_file()
            ballast = _fill(data, leave_kb=1500)  # room for about a frame and a half
            failed = station.wait_for(
                lambda: len([1 for k, _ in station.run_events() if k == "record_failed"]) >= 3, 400
            )
            time.sleep(3.0)
            waiting = [e.get("waiting") for k, e in station.run_events() if k == "record_failed"]
            failures, details = 0, []
            if not failed:
                failures += 1
                details.append("the disk never filled")
            if variant.startswith("freed"):
                n_before = len(station.saved())
                ballast.unlink()
                recovered = station.wait_for(lambda: len(station.saved()) >= n_before + 3, 300)
                if not recovered:
                    failures += 1
                    details.append("no save after the space was freed")
                code = station.terminate(240)
            else:
                code = station.terminate(240)
                ballast.unlink()
            shutdown = [e for k, e in station.run_events() if k == "shutdown"]
            saw = _texts(station)
            final, saw2 = _restart_check(data, journal, log, station.saved())
            problems = final.problems()
            lost = sum(e.get("not_kept", 0) for e in shutdown)
            if lost:  # never reported saved, but lost all the same: the target is 0 lost
                failures += 1
                details.append(f"{lost} inspections neither saved nor kept at close (the spool is on the full disk)")
            if problems:
                failures += 1
                details.append(str(problems))
            results.append(
                _record(
                    f"disk full ({variant})",
                    1,
                    failures,
                    saw + saw2,
                    exit_code=code,
                    waiting_max=max([w for w in waiting if w is not None] or [0]),
                    shutdown=shutdown,
                    not_kept_at_close=lost,
                    kept_at_close=sum(e.get("kept", 0) for e in shutdown),
                    reserve_taken_at_start=reserved,
                    rows=final.rows,
                    reported_saved=final.reported,
                    final_problems=problems,
                    details=details,
                )
            )
        finally:
            _umount(data)
    return results


# -- database locked / read-only / deleted ------------------------------------------------------------------------
def _hold_lock(db: Path, seconds: float, ready: threading.Event) -> None:
    code = (
        "import sqlite3,sys,time;c=sqlite3.connect(sys.argv[1],timeout=30,isolation_level=None);"
        "c.execute('begin exclusive');print('locked',flush=True);time.sleep(float(sys.argv[2]));c.execute('rollback')"
    )
    proc = subprocess.Popen([PYTHON, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    ready.set()
    proc.wait()


def scenario_db(out: Path, template: Path, parts=("locked", "readonly", "deleted")) -> list[dict]:
    results = []
    if "locked" in parts:
        # locked by another process for 10 s
        base = out / "db" / "locked"
        data = fresh_data_dir(template, base / "data")
        journal, log = base / "journal.txt", base / "station.log"
        journal.unlink(missing_ok=True)
        station = StationProcess(data, journal, log)
        station.wait_for(lambda: len(station.saved()) >= 2, 300)
        ready = threading.Event()
        holder = threading.Thread(target=_hold_lock, args=(data / "station.sqlite3", 10.0, ready))
        holder.start()
        ready.wait(30)
        t_lock = time.monotonic()
        holder.join()
        n = len(station.saved())
        recovered = station.wait_for(lambda: len(station.saved()) >= n + 3, 300)
        t_recovered = time.monotonic() - t_lock
        code = station.terminate(240)
        saw = _texts(station)
        final, saw2 = _restart_check(data, journal, log, station.saved())
        problems = final.problems()
        results.append(
            _record(
                "database locked 10 s by another process",
                1,
                int(not recovered) + int(bool(problems)),
                saw + saw2,
                recovered_after_s=round(t_recovered, 1),
                exit_code=code,
                rows=final.rows,
                reported_saved=final.reported,
                final_problems=problems,
            )
        )

    if "readonly" in parts:
        # read-only: a read-only bind mount over the data folder for 10 s (root ignores file modes)
        base = out / "db" / "readonly"
        data = fresh_data_dir(template, base / "data")
        journal, log = base / "journal.txt", base / "station.log"
        journal.unlink(missing_ok=True)
        station = StationProcess(data, journal, log)
        station.wait_for(lambda: len(station.saved()) >= 2, 300)
        subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(data)], check=True)
        saw_fail = station.wait_for(lambda: any(k == "record_failed" for k, _ in station.run_events()), 30)
        time.sleep(10.0)
        subprocess.run(["umount", str(data)], check=True)
        n = len(station.saved())
        t0 = time.monotonic()
        recovered = station.wait_for(lambda: len(station.saved()) >= n + 3, 300)
        t_recovered = time.monotonic() - t0
        code = station.terminate(240)
        saw = _texts(station)
        final, saw2 = _restart_check(data, journal, log, station.saved())
        problems = final.problems()
        results.append(
            _record(
                "database read-only 10 s (ro bind mount)",
                1,
                int(not recovered) + int(bool(problems)) + int(not saw_fail),
                saw + saw2,
                write_failure_seen=saw_fail,
                recovered_after_s=round(t_recovered, 1),
                exit_code=code,
                rows=final.rows,
                reported_saved=final.reported,
                final_problems=problems,
            )
        )

    if "deleted" in parts:
        # the database file deleted under the running station
        base = out / "db" / "deleted"
        data = fresh_data_dir(template, base / "data")
        journal, log = base / "journal.txt", base / "station.log"
        journal.unlink(missing_ok=True)
        station = StationProcess(data, journal, log)
        station.wait_for(lambda: len(station.saved()) >= 2, 300)
        before = len(station.saved())
        for suffix in ("", "-wal", "-shm"):
            (data / f"station.sqlite3{suffix}").unlink(missing_ok=True)
        time.sleep(12.0)
        after_delete = station.saved()[before:]
        code = station.terminate(240)
        saw = _texts(station)
        exists = (data / "station.sqlite3").exists()
        reported_after = len(after_delete)
        lost = []
        if exists:
            try:
                con = sqlite3.connect(f"file:{data / 'station.sqlite3'}?mode=ro", uri=True)
                have = {r[0] for r in con.execute("select id from inspections")}
                con.close()
            except sqlite3.Error as exc:
                have = set()
                saw.append(f"(the new database file cannot be read: {exc})")
            lost = [e["id"] for e in after_delete if e["id"] not in have]
        else:
            lost = [e["id"] for e in after_delete]
        shutdown = [e for k, e in station.run_events() if k == "shutdown"]
        # the next start creates a new database and writes what was kept in the unsaved folder
        final, saw2 = _restart_check(data, journal, log, after_delete)
        problems = final.problems(orphans=False)  # the deleted rows' files stay behind: that history was deleted
        results.append(
            _record(
                "database file deleted under the running station",
                1,
                int(bool(lost)) + int(bool(problems)),
                saw + saw2,
                reported_saved_after_delete=reported_after,
                reported_but_missing=len(lost),
                db_file_after_close=exists,
                exit_code=code,
                shutdown=shutdown,
                rows_in_new_db=final.rows,
                final_problems=problems,
            )
        )
    return results


# -- camera gone and back -----------------------------------------------------------------------------------------
def make_frames(folder: Path, count: int = 6) -> Path:
    """Parts for a folder source: the demo camera's own (generated) frames, re-encoded, in a folder of our own."""
    from PIL import Image

    from line.capture.demo_camera import DEMO_CAMERA_DIR
    from line.capture.folder_source import list_images

    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(list_images(Path(DEMO_CAMERA_DIR))[:count]):
        Image.open(path).convert("RGB").save(folder / f"part{i:02d}.png")
    return folder


def scenario_camera(out: Path, template: Path, trials: int, max_minutes: float) -> dict:
    base = out / "camera"
    data = fresh_data_dir(template, base / "data")
    cam = make_frames(base / "cam")
    gone = base / "cam.gone"
    journal, log = base / "journal.txt", base / "station.log"
    journal.unlink(missing_ok=True)
    station = StationProcess(data, journal, log, station_args=["--source", f"folder:{cam}"])
    station.wait_for(lambda: len(station.saved()) >= 1, 300)
    failures, details, done = 0, [], 0
    deadline = time.monotonic() + max_minutes * 60
    rng = random.Random(50)
    for trial in range(trials):
        if time.monotonic() > deadline or station.proc.poll() is not None:
            break
        os.rename(cam, gone)
        lost_seen = station.wait_for(
            lambda: any(k == "camera" and not e.get("ok") for k, e in station.run_events()[-40:]), 15
        )
        time.sleep(rng.uniform(0.5, 3.0))
        os.rename(gone, cam)
        n = len(station.saved())
        back = station.wait_for(lambda: len(station.saved()) >= n + 1, 40)
        done += 1
        if not back:
            failures += 1
            details.append(f"cycle {trial}: no inspection within 40 s of the camera's return (lost seen: {lost_seen})")
    code = station.terminate(240)
    saw = _texts(station)
    final, saw2 = _restart_check(data, journal, log, station.saved())
    problems = final.problems()
    return _record(
        "camera (image folder) gone and back",
        done,
        failures + int(bool(problems)),
        saw + saw2,
        exit_code=code,
        rows=final.rows,
        reported_saved=final.reported,
        final_problems=problems,
        details=details[:10],
    )


# -- corrupt and hostile frames through main.py inspect ----------------------------------------------------------
def _png_header_only(path: Path, w: int, h: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def make_hostile(folder: Path) -> dict[str, Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    frames = sorted(make_frames(folder / "parts", 2).glob("*.png"))
    ref, good = frames[0], frames[1]
    part = np.asarray(Image.open(good).convert("RGB"))
    # each valid file costs a full product build in main.py inspect (about 30-100 s here): the list is the issue's
    f: dict[str, Path] = {"another good part (control)": good}
    data = good.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    f["truncated PNG"] = folder / "truncated.png"
    (folder / "zero.png").write_bytes(b"")
    f["zero-sized file"] = folder / "zero.png"
    Image.new("RGB", (1, 1), (128, 128, 128)).save(folder / "1x1.png")
    f["1x1 PNG"] = folder / "1x1.png"
    _png_header_only(folder / "30000.png", 30000, 30000)
    f["30000x30000 PNG"] = folder / "30000.png"
    big = Image.fromarray(part).resize((8900, 8900), Image.NEAREST)
    big.save(folder / "8900.png", compress_level=1)
    f["8900x8900 PNG (79 MP, under the 80 MP limit)"] = folder / "8900.png"
    del big
    g16 = np.asarray(Image.open(good).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(g16).save(folder / "gray16.png")
    f["16-bit gray PNG"] = folder / "gray16.png"
    Image.open(good).convert("CMYK").save(folder / "cmyk.jpg")
    f["CMYK JPEG"] = folder / "cmyk.jpg"
    anim = [Image.fromarray(part), Image.fromarray(255 - part)]
    anim[0].save(folder / "anim.gif", save_all=True, append_images=anim[1:], duration=100, loop=0)
    f["animated GIF"] = folder / "anim.gif"
    anim[0].save(folder / "anim.png", save_all=True, append_images=anim[1:], duration=100)
    f["animated PNG (APNG)"] = folder / "anim.png"
    nan = np.full(part.shape[:2], np.nan, dtype=np.float32)
    Image.fromarray(nan, mode="F").save(folder / "nan.tif")
    f["NaN-filled float TIFF"] = folder / "nan.tif"
    Image.open(good).convert("LA").save(folder / "la.png")
    f["2 channels (gray+alpha) PNG"] = folder / "la.png"
    Image.open(good).convert("RGBA").save(folder / "rgba.png")
    f["4 channels (RGBA) PNG"] = folder / "rgba.png"
    (folder / "text.png").write_text("not an image\n")
    f["text file named .png"] = folder / "text.png"
    f["_ref"] = ref
    return f


def _peak_rss_mb_of(args: list[str], timeout_s: float) -> dict:
    """Run with wait4 to get the child's own peak RSS."""
    t0 = time.monotonic()
    proc = subprocess.Popen(args, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks, err_chunks = [], []
    threads = [
        threading.Thread(target=lambda s, b: b.append(s.read()), args=(proc.stdout, out_chunks)),
        threading.Thread(target=lambda s, b: b.append(s.read()), args=(proc.stderr, err_chunks)),
    ]
    for t in threads:
        t.start()
    timer = threading.Timer(timeout_s, lambda: proc.poll() is None and os.kill(proc.pid, 9))
    timer.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    for t in threads:
        t.join()
    rc = os.waitstatus_to_exitcode(status)
    return {
        "rc": rc,
        "stdout": b"".join(out_chunks).decode(errors="replace"),
        "stderr": b"".join(err_chunks).decode(errors="replace"),
        "wall_s": time.monotonic() - t0,
        "peak_rss_mb": usage.ru_maxrss / 1024.0,
    }


def scenario_frames(out: Path, timeout_s: float = 600.0) -> dict:
    files = make_hostile(out / "frames")
    ref = files.pop("_ref")
    rows, failures = [], 0
    cache = out / "frames" / "cache"  # the reference's memory bank and calibration, built by the control once
    for name, path in files.items():
        r = _peak_rss_mb_of(
            [PYTHON, "main.py", "inspect", "--ref", str(ref), str(path), "--json", "--cache-dir", str(cache)], timeout_s
        )
        err_lines = [line for line in r["stderr"].splitlines() if line.strip()]
        verdict = None
        if r["rc"] == 0:
            try:
                verdict = json.loads(r["stdout"])["verdict"]
            except (ValueError, KeyError, TypeError):
                verdict = "unparseable output"
        crashed = "Traceback" in r["stderr"] or r["rc"] < 0 or r["rc"] > 3
        clear = (r["rc"] != 0 and len(err_lines) == 1) or verdict in ("PASS", "FAIL")
        ok = clear and not crashed
        failures += not ok
        rows.append(
            {
                "frame": name,
                "rc": r["rc"],
                "wall_s": round(r["wall_s"], 1),
                "peak_rss_mb": round(r["peak_rss_mb"]),
                "said": verdict or (err_lines[-1][:240] if err_lines else ""),
                "ok": ok,
                "stderr_lines": len(err_lines),
            }
        )
        print(
            f"   {name}: rc {r['rc']}, {r['wall_s']:.1f} s, {r['peak_rss_mb']:.0f} MB: {rows[-1]['said'][:160]}",
            flush=True,
        )
    RESULTS["hostile frames (main.py inspect)"] = {"trials": len(rows), "failures": failures, "rows": rows}
    print(f"== hostile frames: trials {len(rows)}, failures {failures}", flush=True)
    return RESULTS["hostile frames (main.py inspect)"]


# -- kill -9 of the headless line runner while a simulated PLC triggers parts over OPC UA ------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _plc_loop(endpoint: str, told: list[dict], stop: threading.Event, errors: list[str]) -> None:
    """A PLC: PartId + Trigger, wait for ResultReady, read InspectionId / ResultPartId, ResultAck; reconnects."""
    import asyncio

    from asyncua import Client, ua

    async def run() -> None:
        n = 0
        while not stop.is_set():
            try:
                client = Client(endpoint, timeout=3)
                async with client:
                    idx = await client.get_namespace_index("urn:inspection-station:line")
                    node = lambda name: client.get_node(f"ns={idx};s=InspectionStation.{name}")  # noqa: E731

                    async def write(name, value, vtype):
                        await node(name).write_value(ua.DataValue(ua.Variant(value, getattr(ua.VariantType, vtype))))

                    while not stop.is_set():
                        if await node("State").read_value() != 1:
                            await asyncio.sleep(0.05)
                            continue
                        n += 1
                        part = f"P{os.getpid()}-{n}"
                        await write("PartId", part, "String")
                        await write("Trigger", True, "Boolean")
                        t0 = time.monotonic()
                        while not await node("ResultReady").read_value():
                            if stop.is_set() or time.monotonic() - t0 > 120:
                                break
                            await asyncio.sleep(0.02)
                        else:
                            iid = await node("InspectionId").read_value()
                            rpart = await node("ResultPartId").read_value()
                            told.append({"id": int(iid), "part": rpart, "sent": part})
                            await write("ResultAck", True, "Boolean")
            except Exception as exc:  # noqa: BLE001 - the runner was killed: reconnect to the next one
                if not stop.is_set():
                    errors.append(type(exc).__name__)
                await asyncio.sleep(0.5)

    asyncio.run(run())


def scenario_line_kill(out: Path, template: Path, trials: int, max_minutes: float) -> dict:
    from asyncua import Client  # noqa: F401 - fails early when asyncua is missing

    rng = random.Random(7)
    base = out / "line"
    data = fresh_data_dir(template, base / "data")
    port = _free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/inspection/"
    config = base / "station.toml"
    config.write_text(f"""[station]\ndata_dir = "{data}"\nproduct = "Demo disk"\nname = "faults"\nack_timeout_s = 30.0\n
[camera]\nsource = "demo"\ntrigger = "software"\n\n[opcua]\nendpoint = "{endpoint}"\nsecurity = "none"\n""")
    told: list[dict] = []
    errors: list[str] = []
    stop = threading.Event()
    plc = threading.Thread(target=_plc_loop, args=(endpoint, told, stop, errors), daemon=True)
    plc.start()
    failures, details, done = 0, [], 0
    deadline = time.monotonic() + max_minutes * 60
    log = open(base / "runner.log", "ab")
    mismatched = 0
    for trial in range(trials):
        if time.monotonic() > deadline:
            break
        n0 = len(told)
        proc = subprocess.Popen(
            [PYTHON, "main.py", "line", "--config", str(config)],
            cwd=ROOT,
            env=env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        t0 = time.monotonic()
        wait_parts = rng.randint(1, 3)
        while len(told) < n0 + wait_parts and time.monotonic() - t0 < 300 and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            os.kill(proc.pid, 9)
        proc.wait()
        done += 1
        result = check(data, [{"id": t["id"]} for t in told], audit=trial % 5 == 4, hashes=True)
        problems = result.problems(orphans=False, spool=False)
        con = sqlite3.connect(f"file:{data / 'station.sqlite3'}?mode=ro", uri=True)
        parts = dict(con.execute("select id, part_id from inspections").fetchall())
        con.close()
        bad = [t for t in told if parts.get(t["id"]) != t["sent"] or t["part"] != t["sent"]]
        mismatched = len(bad)
        if problems or bad:
            failures += 1
            details.append(f"trial {trial}: {problems} {bad[:3]}")
    stop.set()
    # a last clean run: its start-up writes what was kept, then SIGTERM
    proc = subprocess.Popen(
        [PYTHON, "main.py", "line", "--config", str(config)], cwd=ROOT, env=env(), stdout=log, stderr=subprocess.STDOUT
    )
    time.sleep(30)
    proc.send_signal(15)
    code = proc.wait(120)
    log.close()
    final = check(data, [{"id": t["id"]} for t in told])
    problems = final.problems()
    text = base / "data" / "logs" / "line.log"
    saw = (
        [
            line
            for line in text.read_text(errors="replace").splitlines()
            if ("ERROR" in line or "WARNING" in line) and "asyncua" not in line
        ][-5:]
        if text.exists()
        else []
    )
    return _record(
        "kill -9 of the line runner under an OPC UA PLC",
        done,
        failures + int(bool(problems)),
        saw or ["(the PLC sees the connection drop; State is read again after the restart)"],
        results_told_to_plc=len(told),
        quarantined_by_startup=len(final.quarantined_images),
        part_id_mismatches=mismatched,
        rows=final.rows,
        final_problems=problems,
        clean_stop_exit=code,
        plc_reconnects=len(errors),
        details=details[:5],
    )


SCENARIOS = ("frames", "db", "disk", "camera", "kill", "line", "plant")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="tools.faults run")
    ap.add_argument("--scenario", default="all", help="all, or a comma list of: " + ", ".join(SCENARIOS))
    ap.add_argument("--out", type=Path, default=Path("out/faults"))
    ap.add_argument("--kill-trials", type=int, default=60)
    ap.add_argument("--kill-minutes", type=float, default=15.0, help="stop the kill loop after this long")
    ap.add_argument("--camera-trials", type=int, default=50)
    ap.add_argument("--line-trials", type=int, default=20)
    ap.add_argument("--line-minutes", type=float, default=8.0)
    ap.add_argument("--camera-minutes", type=float, default=10.0)
    ap.add_argument("--plant-minutes", type=float, default=5.0, help="per protocol (OPC UA, then Modbus)")
    ap.add_argument("--plant-drop", type=float, default=0.3, help="share of PLC cycles that drop the connection")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    wanted = SCENARIOS if args.scenario == "all" else tuple(s.strip() for s in args.scenario.split(","))
    template = prepare_template(out / "template") if set(wanted) - {"frames"} else None
    started = time.monotonic()
    for name in wanted:
        t0 = time.monotonic()
        if name == "frames":
            scenario_frames(out)
        elif name == "kill":
            scenario_kill(out, template, args.kill_trials, args.kill_minutes)
        elif name == "disk":
            scenario_disk(out, template)
        elif name == "db":
            scenario_db(out, template)
        elif name.startswith("db-"):
            scenario_db(out, template, parts=(name[3:],))
        elif name == "line":
            scenario_line_kill(out, template, args.line_trials, args.line_minutes)
        elif name == "camera":
            scenario_camera(out, template, args.camera_trials, args.camera_minutes)
        elif name == "plant":
            from tools.faults.plant_faults import scenario_plant

            for r in scenario_plant(out, template, args.plant_minutes, args.plant_drop):
                _record(r.pop("scenario"), r.pop("trials"), r.pop("failures"), r.pop("runner_log_examples"), **r)
        else:
            raise SystemExit(f"unknown scenario {name!r}")
        print(f"   ({name}: {time.monotonic() - t0:.0f} s)", flush=True)
        path = out / "results.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        old.update(RESULTS)
        path.write_text(json.dumps(old, indent=2, default=str))
    print(f"total {time.monotonic() - started:.0f} s", flush=True)
    return 0 if all(r["failures"] == 0 for r in RESULTS.values()) else 1
