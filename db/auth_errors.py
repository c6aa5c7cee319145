"""Typed errors of users, roles and the audit trail (the db/errors.py family: each is a DatabaseError with a
one-line message meant for a person, so the desktop and the headless commands can show ``str(error)``)."""

from __future__ import annotations

from datetime import datetime

from .errors import DatabaseError, ValidationError


class PermissionDenied(DatabaseError):
    """The acting user's role may not do this action (or nobody is logged in, or the account is disabled)."""

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        role: str | None = None,
        user: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.action = action
        self.role = role
        self.user = user


class AuthenticationError(DatabaseError):
    """A name and password did not log anybody in (wrong password, unknown name, locked or disabled account)."""

    def __init__(self, message: str, *, status: str = "bad_credentials", locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.locked_until = locked_until


class ReasonRequiredError(ValidationError):
    """A threshold override or a relabel was attempted without saying why."""


class WeakPasswordError(ValidationError):
    """A new password is too short (see db.users.MIN_PASSWORD_LENGTH)."""


class LastAdminError(ValidationError):
    """The change would leave the station without an enabled admin."""


__all__ = ["AuthenticationError", "LastAdminError", "PermissionDenied", "ReasonRequiredError", "WeakPasswordError"]
