"""What the chat thread reports, called from the chat thread (line/chat/chat_thread.py), in the order it happened."""

from __future__ import annotations

from typing import Protocol


class ChatListener(Protocol):
    def model_ready(self, text: str) -> None:
        """The language model is loaded and warm; ``text`` says what loaded (for the status bar)."""

    def token(self, piece: str) -> None:
        """A piece of the answer being written."""

    def answer_finished(self, text: str) -> None:
        """The whole answer (also after a stop: what was written until then)."""

    def failed(self, message: str) -> None:
        """A message for people: the model could not be loaded (answers then hold the measured facts only), or the
        question got no answer."""
