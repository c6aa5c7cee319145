"""The real desktop station (desktop/app.py: window, camera feed, inference worker, database writer, spool) in
offscreen Qt, with Auto switched on as soon as the product is ready, and a journal of what the station told the
operator: every inspection it reported as saved (id and SHA-256 of its files), every banner and database status
text. Nothing of the station is replaced; a subclass of Station only listens.

    python -m tools.faults.station_proc --journal J.txt [--stop-after N] [--no-auto] -- --data-dir D --demo ...

SIGTERM (or ``--stop-after N`` inspections of this run saved) closes the window as an operator would; kill -9 is
the harness's business. Journal lines: ``<monotonic> <event> <json>``, written with one write() each, so a kill
never leaves half a line claimed as saved.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

CHAT_QUESTION = "Is there a defect on this part? Where is it and how large?"
HARNESS_USER = "faults-harness"  # the first admin of a data folder without users, created at its first start
HARNESS_PASSWORD = "Faults-harness-15-pulls-the-plug"


class Journal:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, event: str, **data) -> None:
        line = f"{time.monotonic():.3f} {event} {json.dumps(data, default=str)}\n"
        os.write(self.fd, line.encode())


def read_journal(path) -> list[tuple[float, str, dict]]:
    events = []
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return events
    for line in text.splitlines():
        parsed = parse_journal_line(line)
        if parsed is not None:
            events.append(parsed)
    return events


def parse_journal_line(line: str) -> tuple[float, str, dict] | None:
    parts = line.split(" ", 2)
    if len(parts) != 3:
        return None
    try:
        return float(parts[0]), parts[1], json.loads(parts[2])
    except ValueError:
        return None


def _arguments(own: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tools.faults.station_proc")
    parser.add_argument("--journal", required=True)
    parser.add_argument("--stop-after", type=int, default=0, help="close the window after N saved inspections")
    parser.add_argument("--no-auto", action="store_true")
    parser.add_argument(
        "--no-chat",
        action="store_true",
        help="do not load the chat's language model (it is not on the inspection path; on a 2-core "
        "machine it takes a core for a minute at every start)",
    )
    parser.add_argument(
        "--chat-every",
        type=int,
        default=0,
        help="with the chat loaded: ask it about the part on screen after every N saved inspections, as a "
        "supervisor would (0: never); each answer is journalled as 'chat' with its time",
    )
    parser.add_argument(
        "--chat-nice",
        type=int,
        default=None,
        help="the chat thread's priority offset instead of line.chat.chat_thread.CHAT_NICE (0: as the others)",
    )
    parser.add_argument(
        "--tracemalloc-at",
        default="",
        help="comma list of saved-inspection counts (e.g. 500,1000,2500): trace Python allocations from the start "
        "and journal, at each count, the resident memory and the allocation sites that grew most since the first",
    )
    return parser.parse_args(own)


class _Tracing:
    """Python allocation snapshots at chosen saved-inspection counts (tracemalloc, 8 frames deep)."""

    def __init__(self, at: str) -> None:
        self.at = sorted({int(x) for x in at.split(",") if x.strip()})
        self.first = None
        if self.at:
            import tracemalloc

            tracemalloc.start(8)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def _maybe_trace(n: int, tracing: _Tracing, journal) -> None:
    if n not in tracing.at:
        return
    import tracemalloc

    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")]
    )
    traced, peak = tracemalloc.get_traced_memory()
    entry = {"n": n, "rss_mb": _rss_mb(), "traced_mb": traced / 1e6, "peak_mb": peak / 1e6}
    if tracing.first is None:
        tracing.first = snapshot
    else:
        entry["grew"] = [
            {"kb": round(stat.size_diff / 1024, 1), "count": stat.count_diff, "where": stat.traceback.format()[-6:]}
            for stat in snapshot.compare_to(tracing.first, "traceback")[:12]
        ]
    journal.write("tracemalloc", **entry)


def _set_chat_nice(nice: int | None) -> None:
    if nice is not None:
        import line.chat.chat_thread as chat_thread

        chat_thread.CHAT_NICE = nice


def _maybe_ask(station, n: int, every: int) -> None:
    """Ask the chat about the part on screen after every ``every`` saved parts, one question at a time."""
    chat = getattr(station, "chat_link", None)
    if not every or chat is None or n % every or station.window.chat.is_streaming():
        return
    station._asked["t"] = time.monotonic()
    chat.ask(CHAT_QUESTION)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        split = argv.index("--")
        own, station_args = argv[:split], argv[split + 1 :]
    else:
        own, station_args = argv, []
    args = _arguments(own)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    journal = Journal(args.journal)
    journal.write("process", pid=os.getpid(), args=station_args)

    from PySide6.QtCore import QTimer

    import desktop.controllers.station as station_module
    from line.problems import Severity

    base = station_module.Station
    stop_requested = {"flag": False}

    class ListeningStation(base):  # the real Station; it only reports what it shows
        def start(self, spec, product_id):
            window = self.window
            saved = {"n": 0}
            self._asked = {"t": 0.0}
            tracing = _Tracing(args.tracemalloc_at)
            shown: set[int] = set()

            def on_shown(outcome) -> None:
                shown.add(id(outcome))

            def on_recorded(outcome, record) -> None:
                fresh = id(outcome) in shown
                shown.discard(id(outcome))
                journal.write(
                    "saved", id=record.id, image=record.image_sha256, heatmap=record.heatmap_sha256, fresh=fresh
                )
                if fresh:
                    saved["n"] += 1
                    _maybe_ask(self, saved["n"], args.chat_every)
                    _maybe_trace(saved["n"], tracing, journal)
                    if args.stop_after and saved["n"] >= args.stop_after:
                        QTimer.singleShot(0, window.close)

            def on_failed(message) -> None:
                journal.write("record_failed", message=message, waiting=self.recorder.waiting)

            def on_ready(pid) -> None:
                journal.write("product_ready", product=pid)
                if not args.no_auto and not self.auto:
                    self.set_auto(True)
                    journal.write("auto", on=self.auto)

            show_problem, set_database = window.show_problem, window.status.set_database

            def problem(key, text, level=Severity.ERROR, *a, **k):
                journal.write("banner", key=key, level=Severity(level).name.lower(), text=text)
                return show_problem(key, text, level, *a, **k)

            def database_status(text, ok=True):
                journal.write("db_status", text=text, ok=ok)
                return set_database(text, ok)

            window.show_problem = problem
            window.status.set_database = database_status
            self.outcome_shown.connect(on_shown)
            self.part_recorded.connect(on_recorded)
            self.record_failed.connect(on_failed)
            self.product_ready.connect(on_ready)
            self.feed.status_changed.connect(lambda name, msg, ok: journal.write("camera", text=msg, ok=ok))

            ticks = {"n": 0}

            def poll() -> None:  # lets Python run the SIGTERM handler; closes the window as the operator would
                ticks["n"] += 1
                if ticks["n"] % 100 == 0:  # every 10 s: the reference count of True (desktop/qt/qt_compat.py)
                    journal.write(
                        "refs", true=sys.getrefcount(True), false=sys.getrefcount(False), none=sys.getrefcount(None)
                    )
                if stop_requested["flag"]:
                    stop_requested["flag"] = False
                    journal.write("closing")
                    window.close()

            self._fault_timer = QTimer(self)
            self._fault_timer.timeout.connect(poll)
            self._fault_timer.start(100)
            super().start(spec, product_id)

        def attach_chat(self, link):
            super().attach_chat(link)
            link.service.modelReady.connect(lambda text: journal.write("chat_ready", text=text))
            link.service.failed.connect(lambda text: journal.write("chat_failed", text=text))
            link.service.answerFinished.connect(
                lambda text: journal.write("chat", chars=len(text), seconds=time.monotonic() - self._asked["t"])
            )

        def shutdown(self):
            first = not getattr(self, "_fault_shutdown", False)
            self._fault_shutdown = True
            result = super().shutdown()
            if first:
                journal.write(
                    "shutdown",
                    kept=self.recorder.kept,
                    not_kept=self.recorder.not_kept,
                    unsaved=self.recorder.waiting,
                )
            return result

    station_module.Station = ListeningStation
    _set_chat_nice(args.chat_nice)
    if args.no_chat:
        import desktop.controllers.chat_link as chat_link

        chat_link.ChatLink.start = lambda self: None
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.__setitem__("flag", True))
    from desktop import app

    def log_in(window, database):  # the window asks who works at it (issue 14): the harness is its operator
        from db.guarded import GuardedDatabase
        from desktop.controllers.login_session import LoginSession

        session = LoginSession(
            window,
            GuardedDatabase(database),
            ask_login=lambda _message, _name: (HARNESS_USER, HARNESS_PASSWORD),
            ask_first_admin=lambda _message: (HARNESS_USER, HARNESS_PASSWORD, HARNESS_PASSWORD),
        )
        ok = session.start()
        journal.write("login", ok=ok, user=HARNESS_USER)
        return session if ok else None

    app.log_in = log_in
    code = app.main(station_args)
    journal.write("exit", code=code)
    return code


if __name__ == "__main__":
    sys.exit(main())
