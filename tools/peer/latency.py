"""Per-frame latency of the project and of anomalib's PatchCore on the same frames, interleaved.

The machine's speed drifts by 15% or more within minutes, so the two benchmarks alternate (peer, project, peer,
project, ...; ../shared/peer/SETUP.md section 4), each in its own process, on the same frames: the category's first
``--frames`` test images in the project's order (both scripts take them the same way), after ``--warmup`` untimed
ones, with the same reference (seed 0, 1 shot); the peer with --threads torch threads, the project with its own
thread split unless --ours-threads is given.

- project: tools/bench_latency.py (map + verdict per frame: working resize, features, search, full-size map,
  verdict, regions; product build from the reference);
- peer: PEER_DIR/peer_latency.py (anomalib's PreProcessor resize + PatchcoreModel.forward, the ``pre_fwd`` clock;
  its 256x256 map is not resized back to the frame; the fit from the reference).

A timing benchmark: run it at normal priority while holding the bench lock, alone on the machine as far as possible:

    flock /work/notes/bench.lock .venv/bin/python tools/peer/latency.py --peer /work/peer --data ../shared/datasets \
        --category ball_screw --category magnetic_tile --rounds 3 --out out/peer/latency
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def peer_cmd(args: argparse.Namespace, category: str, out: Path) -> list[str]:
    peer = Path(args.peer).resolve()
    return [
        str(peer / "venv" / "bin" / "python"), str(peer / "peer_latency.py"),
        "--data", str(Path(args.data).resolve()), "--category", category, "--seed", "0",
        "--frames", str(args.frames), "--warmup", str(args.warmup), "--threads", str(args.threads),
        "--json", str(out),
    ]  # fmt: skip


def ours_cmd(args: argparse.Namespace, category: str, out: Path, line: bool) -> list[str]:
    cmd = [
        sys.executable, str(REPO / "tools" / "bench_latency.py"),
        "--data", str(Path(args.data).resolve()), "--category", category, "--shots", "1",
        "--resolution", str(args.resolution), "--frames", str(args.frames), "--warmup", str(args.warmup),
        "--json", str(out),
    ]  # fmt: skip
    if args.ours_threads:  # else the station's own split (ADR 0008: OpenVINO's pool on every core, torch on half)
        cmd += ["--threads", str(args.ours_threads)]
    return [*cmd, "--line"] if line else cmd


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    extra = env or {}
    print("+", *(f"{k}={v}" for k, v in extra.items()), " ".join(cmd), f"(load {load()})", flush=True)
    subprocess.run(
        cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1", **extra}
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer", required=True, help="PEER_DIR: venv/, peer_latency.py, the converted weights")
    ap.add_argument("--data", required=True)
    ap.add_argument("--category", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2, help="the peer's torch threads")
    ap.add_argument("--ours-threads", type=int, default=None, help="the project's torch threads (default its own)")
    ap.add_argument("--resolution", type=int, default=0, help="the project's working size, 0 = automatic")
    ap.add_argument("--line", action="store_true", help="also time the project in line mode (window full)")
    ap.add_argument(
        "--ours-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the project's runs only (the peer's scripts set OMP_WAIT_POLICY=PASSIVE)",
    )
    ap.add_argument("--out", default="out/peer/latency")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    ours_env = dict(kv.split("=", 1) for kv in args.ours_env)
    out.mkdir(parents=True, exist_ok=True)
    cats = args.category or ["ball_screw", "magnetic_tile"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "diff", "--name-only", "HEAD"], cwd=REPO, capture_output=True, text=True)
    rows: dict[str, dict[str, list[dict]]] = {c: {"peer": [], "ours": [], "ours_line": []} for c in cats}
    started = {"utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "load": load()}
    for r in range(args.rounds):
        for c in cats:
            f = out / f"peer_{c}_{r}.json"
            run(peer_cmd(args, c, f), Path(args.peer))
            p = json.loads(f.read_text())
            rows[c]["peer"].append({"p50": p["pre_fwd_ms"]["p50"], "p95": p["pre_fwd_ms"]["p95"],
                                    "fwd_p50": p["fwd_ms"]["p50"], "fit_s": p["build"]["engine_fit_s"]})  # fmt: skip
            modes = [("ours", False), ("ours_line", True)] if args.line else [("ours", False)]
            for key, line in modes:
                f = out / f"{key}_{c}_{r}.json"
                run(ours_cmd(args, c, f, line), REPO, ours_env)
                ours = json.loads(f.read_text())
                o = ours["categories"][c]
                rows[c][key].append({"p50": o["total"]["p50"], "p95": o["total"]["p95"],
                                     "features_p50": o["features"]["p50"], "search_p50": o["search"]["p50"],
                                     "resolution": o["resolution"], "build_s": o["build_ms"] / 1e3,
                                     "machine": ours["machine"]})  # fmt: skip
    summary: dict[str, object] = {
        "commit": commit.stdout.strip(),
        "modified": dirty.stdout.split(),  # tracked files changed in the working tree the runs used
        "started": started,
        "ended": {"utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "load": load()},
        "threads": args.threads,
        "ours_threads": args.ours_threads or "the station's default",
        "ours_env": ours_env,
        "frames": args.frames,
        "warmup": args.warmup,
        "runs": rows,
    }
    for c in cats:
        peer50 = float(np.median([x["p50"] for x in rows[c]["peer"]]))
        for key in ("ours", "ours_line"):
            if rows[c][key]:
                ours50 = float(np.median([x["p50"] for x in rows[c][key]]))
                print(f"{c} {key}: p50 per run {[x['p50'] for x in rows[c][key]]} ms; peer {[x['p50'] for x in rows[c]['peer']]} ms;"
                      f" median {ours50:.1f} against {peer50:.1f}: peer / ours = {peer50 / ours50:.2f}x;"
                      f" build {[x['build_s'] for x in rows[c][key]]} s against fit {[x['fit_s'] for x in rows[c]['peer']]} s")  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
