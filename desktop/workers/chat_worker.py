"""The chat's Qt relay: the language model runs on the chat thread of line/chat/chat_thread.py (a plain thread that
loads the model once, keeps it warm and streams answers); ``ChatService`` is its GUI-side handle and re-emits each
of its reports as a Qt signal. The signals are emitted in the chat thread; receivers in the GUI thread get them
queued, in the order they happened (so the tokens of an answer arrive in order, before its answerFinished).

Wiring (in the main window)::

    chat = ChatService(history=my_history_adapter)       # HistoryQueries or None
    chat.tokenReceived.connect(panel.append_tokens)
    chat.answerFinished.connect(lambda _text: panel.finish_assistant_message())
    chat.failed.connect(lambda msg: panel.append_message("system", msg))
    panel.send_requested.connect(lambda q: (panel.start_assistant_message(), chat.ask(q, current_context())))
    panel.stop_requested.connect(chat.stop)
    chat.start()                                          # loads the model in the chat thread, once
    ...
    chat.shutdown()                                       # on close
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from core.chat.generation import StopFlag
from core.chat.history import HistoryQueries
from line.chat.chat_thread import ChatThread
from line.chat.context import ChatContext
from line.chat.session_factory import SessionFactory, open_session

__all__ = ["ChatContext", "ChatService", "ChatSignals"]


class ChatSignals(QObject):
    """The chat thread's reports as signals (emitted in the chat thread). Parentless on purpose: the chat thread
    holds it through its listener, so it lives as long as the thread may still report."""

    modelReady = Signal(str)  # what was loaded, for the status bar
    tokenReceived = Signal(str)  # a piece of the answer being written
    answerFinished = Signal(str)  # the whole answer (also after Stop: what was written until then)
    failed = Signal(str)  # a message for people; the question got no answer


class _Relay:
    """The chat thread's listener (line.chat.listener.ChatListener): each report becomes its signal."""

    def __init__(self, signals: ChatSignals) -> None:
        self._signals = signals

    def model_ready(self, text: str) -> None:
        self._signals.modelReady.emit(text)

    def token(self, piece: str) -> None:
        self._signals.tokenReceived.emit(piece)

    def answer_finished(self, text: str) -> None:
        self._signals.answerFinished.emit(text)

    def failed(self, message: str) -> None:
        self._signals.failed.emit(message)


class ChatService(QObject):
    """GUI-side handle of the chat thread: start (load once), ask, stop, shutdown.

    ``threads``: torch CPU threads for decoding, set inside the chat thread (see line.chat.chat_thread.ChatThread).
    ``session_factory``: opens the session in the chat thread (default: the installed language model).
    """

    def __init__(
        self,
        history: HistoryQueries | None = None,
        parent: QObject | None = None,
        session_factory: SessionFactory | None = None,
        threads: int | None = None,
    ):
        super().__init__(parent)
        self._stop = StopFlag()
        self.worker = ChatSignals()  # the emitter of the chat's signals (the name of the QObject that emitted them)
        self.thread = ChatThread(_Relay(self.worker), history, session_factory or open_session, threads, self._stop)
        self.modelReady = self.worker.modelReady
        self.tokenReceived = self.worker.tokenReceived
        self.answerFinished = self.worker.answerFinished
        self.failed = self.worker.failed

    def start(self) -> None:
        """Start the chat thread and load the model in it (once)."""
        self.thread.load()

    def ask(self, question: str, context: ChatContext | None = None) -> None:
        """Queue a question about ``context`` (the latest inspection); the answer streams back via signals."""
        self.thread.ask(question, context)

    @Slot()
    def stop(self) -> None:
        """Stop the answer being written (thread-safe; takes effect before the next token)."""
        self.thread.stop_answer()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Stop the answer being written and end the chat thread; a model still loading is waited for, with a log
        line every line.chat.chat_thread.LOAD_WAIT_LOG_S (ChatThread.shutdown). True once the thread has ended."""
        return self.thread.shutdown(timeout_s)
