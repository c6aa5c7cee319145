"""How the chat thread opens its session: the language model and its prompt learner, loaded once."""

from __future__ import annotations

from collections.abc import Callable

from core.chat.history import HistoryQueries
from core.chat.session import ChatSession

# (the history the answers may quote, or None) -> (the session, what was loaded, for people); raises
# core.errors.InspectionError (ModelLoadError) when the model cannot be loaded. Called in the chat thread.
SessionFactory = Callable[[HistoryQueries | None], tuple[ChatSession, str]]


def open_session(history: HistoryQueries | None) -> tuple[ChatSession, str]:
    from core.chat.loading import open_chat  # transformers and the weights: only when the chat is wanted

    session, info = open_chat(history=history)
    text = f"{info['lm_id']} on {info['device']} ({info['load_s']:.1f} s{', from cache' if info['from_cache'] else ''})"
    if info["warning"]:
        text += f"; {info['warning']}"
    return session, text
