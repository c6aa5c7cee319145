"""Soak: Auto mode on the demo camera for a fixed time or a number of saved frames (whichever comes first), sampled every ``--every`` saved frames from /proc of the
station process and from its database: resident memory, threads, open file handles, database size (+ WAL) and
the inference latency p50 / p99 (the rows' ``timings.total``) of the frames since the last sample.

    .venv/bin/python -m tools.faults soak --minutes 25 --every 100 --out out/soak
    .venv/bin/python -m tools.faults soak --frames 20000 --minutes 600 --every 500 --out out/soak

A stop file (``<out>/STOP``, e.g. ``touch out/soak/STOP``) ends the run early the same clean way: the window is
closed as an operator would close it and the invariants are checked.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from tools.faults.common import StationProcess, fresh_data_dir, prepare_template
from tools.faults.invariants import check
from tools.faults.station_proc import parse_journal_line


class JournalTail:
    """Reads the journal incrementally (a 20 000-frame run has a journal too long to parse every second): the
    number of inspections this station process reported as saved and its last reference-count record."""

    def __init__(self, path: Path, pid: int) -> None:
        self.path, self.pid = path, pid
        self.offset = 0
        self.mine = False
        self.saved = 0
        self.refs: dict | None = None
        self._partial = b""

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        self.offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            parsed = parse_journal_line(raw.decode("utf-8", "replace"))
            if parsed is None:
                continue
            _, kind, event = parsed
            if kind == "process":
                self.mine = event.get("pid") == self.pid
            elif self.mine and kind == "saved":
                self.saved += 1
            elif self.mine and kind == "refs":
                self.refs = event


def proc_sample(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    rss_kb = int(fields["VmRSS"].split()[0])
    threads = int(fields["Threads"])
    fd_dir = Path(f"/proc/{pid}/fd")
    targets: list[str] = []
    for name in os.listdir(fd_dir):
        try:
            targets.append(os.readlink(fd_dir / name))
        except OSError:  # closed between the listing and the read
            continue
    return {
        "rss_mb": rss_kb / 1024.0,
        # resident memory split: anonymous (heaps, tensors) and file-backed (mapped libraries and weights), so that
        # a step can be told apart from the pages of a mapped file being read
        "rss_anon_mb": int(fields["RssAnon"].split()[0]) / 1024.0,
        "rss_file_mb": int(fields["RssFile"].split()[0]) / 1024.0,
        "threads": threads,
        "fds": len(targets),
        # what the handles are (pipes and sockets as their kind), to name a handle that appears late
        "fd_targets": sorted(
            t.split(":")[0] if t.startswith(("pipe:", "socket:", "anon_inode:")) else t for t in targets
        ),
    }


def db_sample(data_dir: Path, after_id: int) -> dict:
    db = data_dir / "station.sqlite3"
    size = sum((db.parent / (db.name + s)).stat().st_size for s in ("", "-wal") if (db.parent / (db.name + s)).exists())
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute(
            "select id, json_extract(timings, '$.total') from inspections where id > ?", (after_id,)
        ).fetchall()
        count = con.execute("select count(*) from inspections").fetchone()[0]
    finally:
        con.close()
    lat = np.array([r[1] for r in rows if r[1] is not None], dtype=float)
    return {
        "db_mb": size / 1e6,
        "rows": count,
        "last_id": max((r[0] for r in rows), default=after_id),
        "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
        "p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
        "n_lat": int(lat.size),
    }


def plot(samples: list[dict], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from desktop.views.history.history_table_model import CACHE_ROWS

    frames = [s["frames"] for s in samples]
    fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
    series = [
        ("rss_mb", "resident memory (MB)"),
        ("threads", "threads"),
        ("fds", "open file handles"),
        ("db_mb", "database + WAL (MB)"),
        ("p50_ms", "latency p50 (ms)"),
        ("p99_ms", "latency p99 (ms)"),
        ("load_1min", "load average, 1 min (whole machine, 2 cores)"),
        ("rss_anon_mb", "anonymous resident memory (MB)"),
    ]
    for ax, (key, label) in zip(axes.flat, series, strict=False):
        ax.plot(frames, [s.get(key) for s in samples], marker=".", markersize=3)
        if key in ("threads", "fds"):
            ax.set_ylim(0, max(s[key] for s in samples) * 1.5)
        if key == "rss_mb" and frames[-1] >= CACHE_ROWS:
            ax.axvline(CACHE_ROWS, color="grey", linestyle="--", linewidth=1)
            ax.text(CACHE_ROWS, ax.get_ylim()[0], f" History bound ({CACHE_ROWS} rows)", fontsize=8, va="bottom")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("frames saved")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(series) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


def _title(samples: list[dict]) -> str:
    return (
        f"Soak: Auto on the demo camera, {samples[-1]['frames']} frames in {samples[-1]['t_s'] / 60:.0f} min "
        "(2-core x86-64 VM shared with other jobs, no GPU)"
    )


def summarize(samples: list[dict], warmup_frames: int) -> dict:
    after = [s for s in samples if s["frames"] >= warmup_frames] or samples
    first, last = after[0], samples[-1]
    p50 = np.median([s["p50_ms"] for s in after if s["p50_ms"]])
    p99 = np.median([s["p99_ms"] for s in after if s["p99_ms"]])
    return {
        "frames": last["frames"],
        "minutes": last["t_s"] / 60.0,
        "warmup_frames": first["frames"],
        "rss_start_mb": first["rss_mb"],
        "rss_end_mb": last["rss_mb"],
        "rss_growth_pct": 100.0 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in after),
        "threads": (first["threads"], last["threads"], max(s["threads"] for s in after)),
        "fds": (first["fds"], last["fds"], max(s["fds"] for s in after)),
        "db_mb": (first["db_mb"], last["db_mb"]),
        "p50_ms_median": float(p50),
        "p99_ms_median": float(p99),
        "p99_over_p50": float(p99 / p50),
        "worst_window_p99_over_p50": max(s["p99_ms"] / s["p50_ms"] for s in after if s["p50_ms"]),
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="tools.faults soak")
    ap.add_argument("--minutes", type=float, default=25.0, help="stop after this long")
    ap.add_argument("--frames", type=int, default=0, help="stop after N saved frames (0: no limit), or --minutes")
    ap.add_argument("--every", type=int, default=100, help="sample every N saved frames")
    ap.add_argument("--warmup", type=int, default=500, help="frames before the memory baseline")
    ap.add_argument(
        "--chat-every",
        type=int,
        default=None,
        help="load the chat's language model and ask it about the part on screen every N saved frames (0: load "
        "it, never ask); without it the model is not loaded",
    )
    ap.add_argument("--chat-nice", type=int, default=None, help="the chat thread's priority offset (0: as the others)")
    ap.add_argument(
        "--tracemalloc-at",
        default="",
        help="comma list of frame counts: trace Python allocations and journal what grew most at each (a "
        "diagnosis run: tracing slows the station, so its latencies are not figures)",
    )
    ap.add_argument("--out", type=Path, default=Path("out/soak"))
    ap.add_argument("--replot", action="store_true", help="only redraw <out>/soak.png from its samples.jsonl")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    if args.replot:
        samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines() if line.strip()]
        plot(samples, out / "soak.png", _title(samples))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    template = prepare_template(out / "template")
    data = fresh_data_dir(template, out / "data")
    journal = out / "journal.txt"
    journal.unlink(missing_ok=True)
    station = StationProcess(
        data,
        journal,
        out / "station.log",
        chat_every=args.chat_every,
        harness_args=[
            *(["--tracemalloc-at", args.tracemalloc_at] if args.tracemalloc_at else []),
            *(["--chat-nice", str(args.chat_nice)] if args.chat_nice is not None else []),
        ],
    )
    t0 = time.monotonic()
    samples: list[dict] = []
    last_id = 0
    next_at = args.every
    saved_n = 0
    deadline = t0 + args.minutes * 60.0
    stop_file = out / "STOP"
    stop_file.unlink(missing_ok=True)
    tail = JournalTail(journal, station.pid)
    stopped_by = "minutes"
    with open(out / "samples.jsonl", "w") as fh:
        while time.monotonic() < deadline and station.proc.poll() is None:
            time.sleep(1.0)
            tail.poll()
            saved_n = tail.saved
            if args.frames and saved_n >= args.frames:
                stopped_by = "frames"
            elif stop_file.exists():
                stopped_by = "stop file"
            stopping = stopped_by in ("frames", "stop file")
            if saved_n >= next_at or (stopping and saved_n > (samples[-1]["frames"] if samples else 0)):
                s = {"frames": saved_n, "t_s": time.monotonic() - t0, **proc_sample(station.pid)}
                refs = tail.refs
                s["refcount_true"] = refs["true"] if refs else None
                s["refcount_none"] = refs.get("none") if refs else None
                s["load_1min"] = os.getloadavg()[0]
                d = db_sample(data, last_id)
                last_id = d.pop("last_id")
                s.update(d)
                samples.append(s)
                fh.write(json.dumps(s) + "\n")
                fh.flush()
                print(json.dumps(s), flush=True)
                next_at = (saved_n // args.every + 1) * args.every
            if stopping:
                break
        else:
            if station.proc.poll() is not None:
                stopped_by = "station exited"
    t_stop = time.monotonic() - t0
    code = station.terminate(120)
    result = check(data, station.saved())
    summary = summarize(samples, args.warmup) if samples else {}
    summary.update(
        {
            "exit_code": code,
            "stopped_by": stopped_by,
            "stopped_at_s": t_stop,
            "frames_asked": args.frames,
            "minutes_asked": args.minutes,
            "problems": result.problems(),
            "rows": result.rows,
            "reported_saved": result.reported,
            "shutdown": [e for k, e in station.run_events() if k == "shutdown"],
        }
    )
    if args.chat_every is not None:
        events = station.run_events()
        answers = [e["seconds"] for k, e in events if k == "chat"]
        summary["chat"] = {
            "ready": [e["text"] for k, e in events if k == "chat_ready"],
            "failed": [e["text"] for k, e in events if k == "chat_failed"],
            "answers": len(answers),
            "answer_s_median": float(np.median(answers)) if answers else None,
            "answer_s_max": max(answers) if answers else None,
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    if samples:
        plot(samples, out / "soak.png", _title(samples))
    return 0 if not result.problems() else 1
