"""Transactions: one short session per repository call, rolled back and translated on any failure."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .errors import translate

_makers: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()
_makers_lock = threading.Lock()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The one session factory of ``engine``. Each ``sessionmaker`` defines a Session subclass (with entries in
    SQLAlchemy's event registry), a reference cycle that only the interpreter's rare full collection frees: one
    made per query (the Statistics view makes four a refresh) piled up about one class a part between collections
    in the soak's allocation trace (docs/reliability.md)."""
    with _makers_lock:
        maker = _makers.get(engine)
        if maker is None:
            # expire_on_commit=False: values stay readable after commit while we copy them into records.
            maker = _makers[engine] = sessionmaker(engine, expire_on_commit=False, autoflush=True)
        return maker


@contextmanager
def transaction(maker: sessionmaker[Session], action: str) -> Iterator[Session]:
    """A session whose work commits together or not at all; SQLAlchemy errors become DatabaseError."""
    session = maker()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        _safe_rollback(session)
        raise translate(exc, action=action) from exc
    except BaseException:
        _safe_rollback(session)
        raise
    finally:
        session.close()


@contextmanager
def reading(maker: sessionmaker[Session], action: str) -> Iterator[Session]:
    """A read-only session (rolled back at the end); SQLAlchemy errors become DatabaseError."""
    session = maker()
    try:
        yield session
    except SQLAlchemyError as exc:
        raise translate(exc, action=action) from exc
    finally:
        _safe_rollback(session)
        session.close()


def _safe_rollback(session: Session) -> None:
    try:
        session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone; the server/file discards the transaction anyway


__all__ = ["make_sessionmaker", "reading", "transaction"]
