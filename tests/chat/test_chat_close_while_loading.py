"""Closing the window while the chat's language model is still loading (docs/reliability.md, "Seen once"): the
close used to give up on the chat thread after 10 s and the process then aborted with "QThread: Destroyed while
thread 'chat' is still running" once the thread object was collected. The close now waits for the load (it cannot
be interrupted) and the process exits normally. Each case runs in a process of its own, because the abort it
guards against takes the whole process down (pytest included)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

ROOT = Path(__file__).resolve().parents[2]

# A fake chat model whose load takes LOAD_S (no model is ever downloaded: the session answers with the facts only),
# the chat link and service the window builds, a close LOAD_S / 4 into the load with a shutdown timeout far below
# the load's time, as the window's 10 s is far below a real load's minute on a busy machine.
SCRIPT = textwrap.dedent(
    """
    import logging, sys, time
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication
    from core.chat.session import ChatSession
    from desktop.controllers.chat_link import ChatLink
    from desktop.widgets.chat_panel import ChatPanel
    from desktop.widgets.station_status_bar import StationStatusBar
    from desktop.workers.chat_worker import ChatService

    logging.basicConfig(level=logging.WARNING, format="LOG %(levelname)s %(message)s", stream=sys.stdout)
    LOAD_S = 2.0
    app = QApplication([])
    answered = []

    def slow_load(history):
        time.sleep(LOAD_S)
        print("load ended", flush=True)
        return ChatSession(None, history=history), "slow fake model"

    def run():
        panel, status = ChatPanel(), StationStatusBar()
        service = ChatService(session_factory=slow_load)
        service.worker.answerFinished.connect(answered.append, type=Qt.DirectConnection)
        link = ChatLink(panel, service, None, status)
        link.start()
        time.sleep(LOAD_S / 4)
        if ASK:
            service.ask("Is there a defect?", None)  # queued behind the load
        t0 = time.monotonic()
        ok = service.shutdown(timeout_s=0.1)  # what link.shutdown() does at the window's close, with 10 s
        print(f"shutdown {ok} after {time.monotonic() - t0:.2f} s", flush=True)

    run()
    print(f"answered {len(answered)}", flush=True)
    print("exit", flush=True)
    """
)


def _close_while_loading(ask: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-c", f"ASK = {ask}\n" + SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_close_while_the_model_loads_waits_for_the_load_and_exits_normally():
    proc = _close_while_loading(ask=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Destroyed while thread" not in out
    lines = proc.stdout.splitlines()
    assert lines.index("load ended") < next(i for i, s in enumerate(lines) if s.startswith("shutdown True")), out
    assert "the chat's language model is still loading" in proc.stdout  # the wait is said in the log
    assert lines[-1] == "exit"


def test_a_question_queued_behind_the_load_is_not_answered_after_the_close():
    proc = _close_while_loading(ask=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Destroyed while thread" not in out
    assert "answered 0" in proc.stdout, out
