"""Chat messages, attached to an inspection, a product, or neither (general supervisor questions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .convert import chat_message_info
from .errors import ValidationError
from .lookup import inspection_row, product_row
from .models import CHAT_ROLES, ChatMessage
from .records import ChatMessageInfo
from .session import reading, transaction
from .types import ensure_utc, utc_now


class ChatRepository:
    def __init__(self, maker: sessionmaker[Session]) -> None:
        self._maker = maker

    def append(
        self,
        role: str,
        text: str,
        *,
        inspection_id: int | None = None,
        product_id: int | None = None,
        time: datetime | None = None,
    ) -> ChatMessageInfo:
        """Append one message. With an inspection and no product, the inspection's product is recorded too."""
        if role not in CHAT_ROLES:
            raise ValidationError(f"Unknown chat role {role!r}; expected one of {', '.join(CHAT_ROLES)}.")
        when = ensure_utc(time or utc_now(), "time")
        with transaction(self._maker, "save the chat message") as session:
            if inspection_id is not None:
                insp = inspection_row(session, inspection_id)
                product_id = insp.product_id if product_id is None else product_id
            if product_id is not None:
                product_id = product_row(session, product_id).id
            row = ChatMessage(inspection_id=inspection_id, product_id=product_id, role=role, text=str(text), time=when)
            session.add(row)
            session.flush()
            return chat_message_info(row)

    def for_inspection(self, inspection_id: int) -> list[ChatMessageInfo]:
        """The conversation about one inspection, oldest first."""
        with reading(self._maker, "read the chat") as session:
            rows = session.scalars(
                select(ChatMessage)
                .where(ChatMessage.inspection_id == inspection_id)
                .order_by(ChatMessage.time, ChatMessage.id)
            ).all()
            return [chat_message_info(r) for r in rows]

    def for_product(
        self, product_id: int | None, *, limit: int = 200, general_only: bool = False
    ) -> list[ChatMessageInfo]:
        """Recent messages about a product (``None``: messages about no product), oldest first.
        ``general_only`` leaves out messages tied to a single inspection."""
        with reading(self._maker, "read the chat") as session:
            query = select(ChatMessage)
            query = query.where(
                ChatMessage.product_id.is_(None) if product_id is None else ChatMessage.product_id == product_id
            )
            if general_only:
                query = query.where(ChatMessage.inspection_id.is_(None))
            rows = session.scalars(query.order_by(ChatMessage.time.desc(), ChatMessage.id.desc()).limit(limit)).all()
            return [chat_message_info(r) for r in reversed(rows)]


__all__ = ["ChatRepository"]
