"""The chat's thread: ONE plain daemon thread that loads the language model once, keeps it warm and streams answers.

Commands (load, ask) go in through a queue and are done in the order they came; what happens is told to the
bound ``ChatListener`` from this thread: the model is ready or could not be loaded, each token, the finished answer,
a failure. Stop is a thread-safe flag (core.chat.generation.StopFlag) read between two tokens by the decoding
loop, so it works while the thread is busy decoding. If the model cannot be loaded the session still answers with
the measured facts. The session is thread-confined: only this thread touches it once the thread runs.

The window hears it through desktop/workers/chat_worker.py, which re-emits each report as a Qt signal.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from core.chat.generation import StopFlag
from core.chat.history import HistoryQueries
from core.chat.session import ChatSession
from core.errors import InspectionError
from line.chat.context import ChatContext
from line.chat.listener import ChatListener
from line.chat.session_factory import SessionFactory, open_session
from line.thread_priority import lower_this_thread

log = logging.getLogger(__name__)

LOAD_WAIT_LOG_S = 30.0  # a close waiting for the model's load says so in the log this often
# The chat's thread runs this much nicer than the station's others (Linux): an answer being written takes a core
# for seconds, and without it the parts inspected meanwhile waited for the CPU (docs/reliability.md, soak run 6).
CHAT_NICE = 10


@dataclass(frozen=True)
class _Ask:
    question: str
    context: ChatContext | None


class _Command:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_LOAD = _Command("load")
_END = _Command("end")


class ChatThread:
    """The chat's one long-lived thread: load, ask, stop_answer and shutdown from any thread; reports to ``listener``.

    ``threads``: torch CPU threads for decoding, set inside the chat thread before the load. 1 is recommended
    on a 2-core machine that also runs the inspector: with 2 threads competing with other busy threads, decoding
    measured 3 tokens/s instead of 11 (docs/benchmarks-chat.md). None leaves torch's setting alone.

    ``stop_flag``: the flag ``stop_answer`` sets (one is made when none is given); ``ask`` clears it.

    ``nice``: how much lower than the station's other threads this one's CPU priority is (line/thread_priority.py),
    so that the parts inspected while an answer is written do not wait for the CPU; 0 keeps it; None: CHAT_NICE."""

    def __init__(
        self,
        listener: ChatListener,
        history: HistoryQueries | None = None,
        session_factory: SessionFactory = open_session,
        threads: int | None = None,
        stop_flag: StopFlag | None = None,
        nice: int | None = None,
    ) -> None:
        self._listener = listener
        self._nice = CHAT_NICE if nice is None else nice
        self._history = history
        self._factory = session_factory
        self._threads = threads
        self._stop = stop_flag if stop_flag is not None else StopFlag()
        self._queue: queue.Queue[_Ask | _Command] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closing = threading.Event()  # set by shutdown: what is still queued is dropped
        self._loading = False  # written by the chat thread; read by shutdown for its log
        self.session: ChatSession | None = None

    # -- the caller's side (any thread) --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (once; not again after ``shutdown``). It loads the model on ``load`` or the first
        question."""
        with self._start_lock:
            if self._thread is None and not self._closing.is_set():
                self._thread = threading.Thread(target=self._run, name="line-chat", daemon=True)
                self._thread.start()

    def load(self) -> None:
        """Load the model in the thread (once; a later load does nothing)."""
        self.start()
        self._queue.put(_LOAD)

    def ask(self, question: str, context: ChatContext | None = None) -> None:
        """Queue a question about ``context`` (the latest inspection); it is answered after what was queued before
        it (a load still running included). Clears the stop flag. After ``shutdown`` it is dropped."""
        if self._closing.is_set():
            return
        self.start()
        self._stop.clear()
        self._queue.put(_Ask(question, context))

    def stop_answer(self) -> None:
        """Stop the answer being written (takes effect before the next token)."""
        self._stop.set()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop the answer being written, drop the questions still queued and end the thread. A model still
        loading cannot be interrupted (the load is one call into transformers): past ``timeout_s`` this keeps
        waiting for it, saying so in the log every LOAD_WAIT_LOG_S, instead of returning with the thread still
        running (under the QThread this thread replaced, that aborted the process at exit:
        tests/chat/test_chat_close_while_loading.py). True once the thread has ended."""
        self._closing.set()
        self._stop.set()
        with self._start_lock:
            thread = self._thread
        if thread is None:
            return True
        self._queue.put(_END)
        thread.join(timeout_s)
        t0 = time.monotonic()
        while thread.is_alive():
            if self._loading:
                log.warning(
                    "the chat's language model is still loading %.1f s into the close; waiting for it to end before "
                    "the station exits (a load cannot be interrupted)",
                    timeout_s + time.monotonic() - t0,
                )
            else:
                log.warning(
                    "the chat is still ending its answer %.1f s into the close; waiting for it",
                    timeout_s + time.monotonic() - t0,
                )
            thread.join(LOAD_WAIT_LOG_S)
        return True

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def ident(self) -> int | None:
        """The thread's identifier (threading.get_ident() inside it); None before ``start``."""
        return self._thread.ident if self._thread is not None else None

    # -- the thread ----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        lower_this_thread(self._nice)
        while True:
            command = self._queue.get()
            if command is _END:
                return
            if self._closing.is_set():
                continue  # queued before the close: nobody waits for it any more
            try:
                if isinstance(command, _Ask):
                    self._answer(command)
                else:
                    self._load()
            except Exception:  # the thread must survive anything a listener does
                log.exception("chat command %r failed", command)

    def _load(self) -> None:
        """Load the model once. If it cannot be loaded, the chat still answers with the measured facts."""
        if self.session is not None:
            return
        if self._threads:
            import torch

            torch.set_num_threads(self._threads)  # this (chat) thread's torch threads
        self._loading = True
        try:
            self.session, text = self._factory(self._history)
        except InspectionError as exc:
            self.session = ChatSession(None, history=self._history)
            self._listener.failed(
                f"The language model could not be loaded: {exc} Answers will hold the measured facts only."
            )
            return
        except Exception as exc:  # a broken install must not take the station down
            log.exception("chat model load failed")
            self.session = ChatSession(None, history=self._history)
            self._listener.failed(
                f"The language model could not be loaded ({exc.__class__.__name__}: {exc}). Answers "
                "will hold the measured facts only."
            )
            return
        finally:
            self._loading = False
        self._listener.model_ready(text)

    def _answer(self, command: _Ask) -> None:
        if self.session is None:
            self._load()
        session = self.session
        assert session is not None
        context = command.context
        part = context.result if context is not None else None
        if context is None or part is None:
            session.clear()
        elif session.part is None or session.part.result is not part:
            session.set_inspection(part, context.frame, context.product)
        pieces: list[str] = []
        try:
            for piece in session.ask(command.question, self._stop):
                pieces.append(piece)
                self._listener.token(piece)
        except InspectionError as exc:
            self._listener.failed(str(exc))
            return
        except Exception as exc:  # told to the asker; the thread goes on
            log.exception("chat answer failed")
            self._listener.failed(f"The answer could not be completed ({exc.__class__.__name__}: {exc}); ask again.")
            return
        self._listener.answer_finished("".join(pieces))
