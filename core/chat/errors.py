"""Errors of the chat, for people: what went wrong and what to do."""

from __future__ import annotations

from core.errors import InspectionError


class ChatInputError(InspectionError):
    """The question cannot be answered as typed (empty, only control characters)."""
