"""Connects the chat panel with the chat worker (desktop/workers/chat_worker.py): questions about the part on screen,
answers streamed into the transcript, Stop, and the conversation stored with its inspection in the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QObject, Slot

from db.auth_errors import PermissionDenied
from db.roles import CHAT, HasRole, require
from desktop.widgets.chat_panel import ChatPanel
from desktop.widgets.station_status_bar import StationStatusBar
from desktop.workers.chat_worker import ChatContext, ChatService
from desktop.workers.db_task import DatabaseTaskRunner
from desktop.workers.inference_worker import InspectionOutcome


class ChatLink(QObject):
    def __init__(
        self, panel: ChatPanel, service: ChatService, database, status: StationStatusBar, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.service = service
        self.database = database
        self.status = status
        self.context: ChatContext | None = None
        self.outcome: InspectionOutcome | None = None
        self.inspection_id: int | None = None
        self.product_id: int | None = None
        # Messages about a part whose row does not exist yet (the database was busy, a write waits on Retry): kept
        # with their time until the row exists, then stored with it; still waiting at shutdown: stored without it.
        self._waiting: dict[int, tuple[InspectionOutcome, list[tuple[str, str, datetime]]]] = {}
        self._tasks = DatabaseTaskRunner(self)
        panel.send_requested.connect(self.ask)
        panel.stop_requested.connect(service.stop)
        service.tokenReceived.connect(self._token)
        service.answerFinished.connect(self._finished)
        service.failed.connect(self._failed)
        service.modelReady.connect(self._model_ready)

    def start(self) -> None:
        """Load the language model in the chat thread (once)."""
        self.service.start()

    def set_part(self, outcome: InspectionOutcome) -> None:
        """The part on screen changed: questions are about this one from now on."""
        self.outcome = outcome
        self.context = ChatContext(outcome.result, outcome.frame.image, outcome.product_name)
        self.inspection_id = None
        self.product_id = outcome.product_id

    def set_record(self, outcome: InspectionOutcome, inspection_id: int) -> None:
        if outcome is self.outcome:
            self.inspection_id = inspection_id
        _, waiting = self._waiting.pop(id(outcome), (outcome, []))
        for role, text, when in waiting:
            self._write(role, text, inspection_id, outcome.product_id, when)

    who: Callable[[], HasRole | None] | None = None  # who is logged in (desktop/app.py); None: nobody is asked

    @Slot(str)
    def ask(self, question: str) -> None:
        if self.who is not None:
            try:
                require(self.who(), CHAT)
            except PermissionDenied as exc:
                self.panel.append_message("assistant", str(exc))
                return
        self._store("user", question)
        self.panel.start_assistant_message()
        self.service.ask(question, self.context)

    @Slot(str)
    def _token(self, text: str) -> None:
        if self.panel.is_streaming():
            self.panel.append_tokens(text)

    @Slot(str)
    def _finished(self, text: str) -> None:
        self.panel.finish_assistant_message()
        self._store("assistant", text)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.panel.finish_assistant_message()
        self.panel.append_message("system", message)

    @Slot(str)
    def _model_ready(self, text: str) -> None:
        self.status.showMessage(f"Chat model ready: {text}", 8000)

    def _store(self, role: str, text: str) -> None:
        if not text.strip():
            return
        when = datetime.now(UTC)
        if self.outcome is not None and self.inspection_id is None:  # its row is not there yet: wait for it
            self._waiting.setdefault(id(self.outcome), (self.outcome, []))[1].append((role, text, when))
            return
        self._write(role, text, self.inspection_id, self.product_id, when)

    def _write(self, role: str, text: str, inspection_id: int | None, product_id: int | None, when: datetime) -> None:
        self._tasks.run(
            lambda: self.database.chat.append(
                role, text, inspection_id=inspection_id, product_id=product_id, time=when
            ),
            on_error=lambda exc: self.status.showMessage(f"Chat message not saved: {exc}", 10000),
        )

    def shutdown(self) -> None:
        self.service.shutdown()
        for outcome, waiting in self._waiting.values():  # their rows never came: keep the words with the product
            for role, text, when in waiting:
                self._write(role, text, None, outcome.product_id, when)
        self._waiting.clear()
        self._tasks.wait_idle(5000)
