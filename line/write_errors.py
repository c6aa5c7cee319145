"""Which database failures pass by themselves (retry later) and which fail the same way every time."""

from __future__ import annotations

from db.errors import (
    DatabaseFullError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseUnreachableError,
    InvalidImageError,
    StorageError,
)

RETRY_DELAYS_S: tuple[float, ...] = (2.0, 4.0, 8.0, 15.0, 30.0)  # waits between automatic retries; the last repeats
TRANSIENT_ERRORS = (
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseFullError,
    DatabaseUnreachableError,
    StorageError,
)


def is_transient(error: BaseException) -> bool:
    """True for the failures that go away by themselves or once someone acts (lock, read-only, full, offline);
    a malformed inspection (ValidationError, an undecodable image) fails the same way every time."""
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, InvalidImageError)
