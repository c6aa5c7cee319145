"""The chat worker: ONE long-lived thread that loads the language model once, keeps it warm and streams answers.

``ChatService`` lives in the GUI thread and owns the thread; ``ChatWorker`` lives in the thread. Questions go in
through a queued signal; tokens, the finished answer and failures come back through signals. Stop is a
thread-safe flag (core.chat.generation.StopFlag) read between two tokens by a transformers StoppingCriteria, so
it works while the worker thread is busy decoding.

Wiring (in the main window)::

    chat = ChatService(history=my_history_adapter)       # HistoryQueries or None
    chat.tokenReceived.connect(panel.append_tokens)
    chat.answerFinished.connect(lambda _text: panel.finish_assistant_message())
    chat.failed.connect(lambda msg: panel.append_message("system", msg))
    panel.send_requested.connect(lambda q: (panel.start_assistant_message(), chat.ask(q, current_context())))
    panel.stop_requested.connect(chat.stop)
    chat.start()                                          # loads the model in the thread, once
    ...
    chat.shutdown()                                       # on close
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.chat.generation import StopFlag
from core.chat.history import HistoryQueries
from core.chat.session import ChatSession
from core.errors import InspectionError
from core.result import InspectionResult

log = logging.getLogger(__name__)

LOAD_WAIT_LOG_S = 30.0  # a close waiting for the model's load says so in the log this often


@dataclass(frozen=True)
class ChatContext:
    """The part the question is about: the latest inspection (None before the first one)."""

    result: InspectionResult | None
    frame: np.ndarray | None = None
    product: str | None = None


def _open_session(history: HistoryQueries | None) -> tuple[ChatSession, str]:
    from core.chat.loading import open_chat

    session, info = open_chat(history=history)
    text = f"{info['lm_id']} on {info['device']} ({info['load_s']:.1f} s{', from cache' if info['from_cache'] else ''})"
    if info["warning"]:
        text += f"; {info['warning']}"
    return session, text


class ChatWorker(QObject):
    """Lives in the chat thread. Do not call its slots directly from the GUI thread: use ChatService."""

    modelReady = Signal(str)  # what was loaded, for the status bar
    tokenReceived = Signal(str)  # a piece of the answer being written
    answerFinished = Signal(str)  # the whole answer (also after Stop: what was written until then)
    failed = Signal(str)  # a message for people; the question got no answer

    def __init__(
        self,
        stop_flag: StopFlag,
        history: HistoryQueries | None = None,
        session_factory: Callable[[HistoryQueries | None], tuple[ChatSession, str]] = _open_session,
        threads: int | None = None,
    ):
        super().__init__()
        self._stop = stop_flag
        self._history = history
        self._factory = session_factory
        self._threads = threads
        self.session: ChatSession | None = None

    @Slot()
    def load(self) -> None:
        """Load the model once. If it cannot be loaded, the chat still answers with the measured facts."""
        if self.session is not None:
            return
        if self._threads:
            import torch

            torch.set_num_threads(self._threads)  # this (chat) thread's torch threads; see ChatService
        try:
            self.session, text = self._factory(self._history)
        except InspectionError as exc:
            self.session = ChatSession(None, history=self._history)
            self.failed.emit(
                f"The language model could not be loaded: {exc} Answers will hold the measured facts only."
            )
            return
        except Exception as exc:  # a broken install must not take the station down
            log.exception("chat model load failed")
            self.session = ChatSession(None, history=self._history)
            self.failed.emit(
                f"The language model could not be loaded ({exc.__class__.__name__}: {exc}). Answers "
                "will hold the measured facts only."
            )
            return
        self.modelReady.emit(text)

    @Slot(str, object)
    def ask(self, question: str, context: ChatContext | None) -> None:
        if self.session is None:
            self.load()
        session = self.session
        assert session is not None
        part = context.result if context is not None else None
        if part is None:
            session.clear()
        elif session.part is None or session.part.result is not part:
            session.set_inspection(part, context.frame, context.product)
        pieces: list[str] = []
        try:
            for piece in session.ask(question, self._stop):
                pieces.append(piece)
                self.tokenReceived.emit(piece)
        except InspectionError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:
            log.exception("chat answer failed")
            self.failed.emit(f"The answer could not be completed ({exc.__class__.__name__}: {exc}); ask again.")
            return
        self.answerFinished.emit("".join(pieces))


class ChatService(QObject):
    """GUI-side handle of the chat thread: start (load once), ask, stop, shutdown.

    ``threads``: torch CPU threads for decoding, set inside the chat thread. 1 is recommended on a 2-core
    machine that also runs the inspector: with 2 threads competing with other busy threads, decoding measured
    3 tokens/s instead of 11 (docs/benchmarks-chat.md). None leaves torch's setting alone.
    """

    _load_requested = Signal()
    _ask_requested = Signal(str, object)

    def __init__(
        self,
        history: HistoryQueries | None = None,
        parent: QObject | None = None,
        session_factory: Callable[[HistoryQueries | None], tuple[ChatSession, str]] | None = None,
        threads: int | None = None,
    ):
        super().__init__(parent)
        self._stop = StopFlag()
        self.thread = QThread()
        self.thread.setObjectName("chat")
        self.worker = ChatWorker(self._stop, history, session_factory or _open_session, threads)
        self.worker.moveToThread(self.thread)
        self._load_requested.connect(self.worker.load)
        self._ask_requested.connect(self.worker.ask)
        self.thread.finished.connect(self.worker.deleteLater)
        self.modelReady = self.worker.modelReady
        self.tokenReceived = self.worker.tokenReceived
        self.answerFinished = self.worker.answerFinished
        self.failed = self.worker.failed

    def start(self) -> None:
        if not self.thread.isRunning():
            self.thread.start()
        self._load_requested.emit()

    def ask(self, question: str, context: ChatContext | None = None) -> None:
        """Queue a question about ``context`` (the latest inspection); the answer streams back via signals."""
        if not self.thread.isRunning():
            self.start()
        self._stop.clear()
        self._ask_requested.emit(question, context)

    @Slot()
    def stop(self) -> None:
        """Stop the answer being written (thread-safe; takes effect before the next token)."""
        self._stop.set()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop the answer being written and end the thread. A model still loading cannot be interrupted (the
        load is one call into transformers): past ``timeout_s`` the close keeps waiting for it, saying so in the log
        every LOAD_WAIT_LOG_S, instead of leaving the thread running. A QThread destroyed while it runs aborts the whole process
        ("QThread: Destroyed while thread 'chat' is still running"), which is what a close during the load did
        when this gave up after ``timeout_s``. True once the thread has ended."""
        self._stop.set()
        if not self.thread.isRunning():
            return True
        self.thread.quit()
        if self.thread.wait(int(timeout_s * 1000)):
            return True
        t0 = time.monotonic()
        while True:
            log.warning(
                "the chat's language model is still loading %.1f s into the close; waiting for it to end before "
                "the station exits (a load cannot be interrupted)",
                timeout_s + time.monotonic() - t0,
            )
            if self.thread.wait(int(LOAD_WAIT_LOG_S * 1000)):
                return True
