"""The chat panel: transcript, input line, Send and Stop. Assistant answers can stream in token by token."""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QTextBrowser, QVBoxLayout, QWidget

ROLE_LABELS = {"user": "You", "assistant": "Station", "system": "Result"}
ROLE_COLOURS = {"user": "#7cc4ff", "assistant": "#9be29b", "system": "#e0c36a"}


@dataclass
class ChatMessage:
    role: str  # "user", "assistant" or "system"
    text: str


class ChatPanel(QWidget):
    send_requested = Signal(str)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("<b>Ask about the result</b>")
        self.view = QTextBrowser()
        self.view.setOpenExternalLinks(False)
        self.view.setPlaceholderText("Results and answers appear here.")
        self.input = QLineEdit()
        self.input.setPlaceholderText("Ask about this part, e.g. where is the defect?")
        self.send_button = QPushButton("Send")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip("Stop the answer being written")
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.send_button)
        row.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)

        self.messages: list[ChatMessage] = []
        self._plain = QTextCharFormat()
        self._streaming: ChatMessage | None = None
        self._deferred: list[ChatMessage] = []
        self._result_at: int | None = None  # where the part-on-screen result starts, while nothing follows it
        self.send_button.clicked.connect(self._submit)
        self.input.returnPressed.connect(self._submit)
        self.stop_button.clicked.connect(self.stop_requested)

    # -- transcript API -------------------------------------------------------------------------------------
    def append_message(self, role: str, text: str) -> None:
        """Add a whole message. While an answer is streaming, it waits and follows the finished answer."""
        if self._streaming is not None:
            self._deferred.append(ChatMessage(role, text))
            return
        self.messages.append(ChatMessage(role, text))
        self._result_at = None  # (show_part_result sets it again for its own message)
        self._insert_header(role)
        self._cursor_at_end().insertText(text, self._plain)
        self._scroll_to_end()

    def show_part_result(self, text: str) -> None:
        """The result of the part now on screen. It replaces the previous part's result when nobody talked about
        that one, so in Auto mode the panel holds the conversation about the part on screen, not a log of parts."""
        if self._streaming is not None:
            self.append_message("system", text)
            return
        if self._result_at is not None and self.messages and self.messages[-1].role == "system":
            cursor = self.view.textCursor()
            cursor.setPosition(self._result_at)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            self.messages.pop()
        start = self._cursor_at_end().position()
        self.append_message("system", text)
        self._result_at = start

    def start_assistant_message(self) -> None:
        """Open an assistant message that ``append_tokens`` fills; Stop becomes available."""
        self.finish_assistant_message()
        self._streaming = ChatMessage("assistant", "")
        self.messages.append(self._streaming)
        self._result_at = None
        self._insert_header("assistant")
        self.set_busy(True)

    def append_tokens(self, text: str) -> None:
        if self._streaming is None:
            self.start_assistant_message()
        assert self._streaming is not None
        self._streaming.text += text
        self._cursor_at_end().insertText(text, self._plain)
        self._scroll_to_end()

    def finish_assistant_message(self) -> None:
        self._streaming = None
        self.set_busy(False)
        deferred, self._deferred = self._deferred, []
        for message in deferred:
            self.append_message(message.role, message.text)

    def clear(self) -> None:
        self._result_at = None
        self.messages.clear()
        self._deferred.clear()
        self._streaming = None
        self.view.clear()

    def set_busy(self, busy: bool) -> None:
        self.stop_button.setEnabled(busy)
        self.send_button.setEnabled(not busy)

    def is_streaming(self) -> bool:
        return self._streaming is not None

    # -- internals ------------------------------------------------------------------------------------------
    def _submit(self) -> None:
        text = self.input.text().strip()
        if not text or self.is_streaming():
            return
        self.input.clear()
        self.append_message("user", text)
        self.send_requested.emit(text)

    def _cursor_at_end(self) -> QTextCursor:
        cursor = self.view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _insert_header(self, role: str) -> None:
        cursor = self._cursor_at_end()
        if not self.view.document().isEmpty():
            cursor.insertBlock()
            cursor.insertBlock()
        label = html.escape(ROLE_LABELS.get(role, role))
        colour = ROLE_COLOURS.get(role, "#cccccc")
        cursor.insertHtml(f'<b style="color:{colour}">{label}:</b>&nbsp;')

    def _scroll_to_end(self) -> None:
        bar = self.view.verticalScrollBar()
        bar.setValue(bar.maximum())
