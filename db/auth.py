"""Who is logged in at this station: a small Qt-free session the desktop (login dialog, idle logout) and the
headless commands share.

    auth = AuthSession(guarded.users, idle_timeout_s=guarded.get_station_setting(IDLE_LOGOUT_SETTING, 600))
    result = auth.login("anna", password)      # LoginResult: .ok, .status (LoginStatus), .user, .message
    if result.ok: ...
    auth.can(REVIEW)                           # grey out what the role may not do
    auth.require(OVERRIDE_THRESHOLD)           # PermissionDenied (nobody logged in, or the role may not)
    auth.touch()                               # on every keyboard / mouse event
    auth.logout_if_idle()                      # from a timer: True when it just logged the user out
    auth.logout()

Logins, failed logins and logouts are recorded in the audit trail by db/users.py. The database layer checks
rights again on every change (db/guarded.py), so this session is a convenience, not the only guard.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .roles import allowed, require
from .types import ensure_utc, utc_now
from .users import LoginResult, UserInfo, UserRepository


class AuthSession:
    def __init__(
        self,
        users: UserRepository,
        *,
        idle_timeout_s: float | None = None,
        clock: Callable[[], datetime] = utc_now,
        via: str = "",
    ) -> None:
        self._users = users
        self._clock = clock
        self._via = via
        self.idle_timeout_s = idle_timeout_s
        self._current: UserInfo | None = None
        self._last_activity: datetime | None = None

    @property
    def current(self) -> UserInfo | None:
        """The logged-in user, or None."""
        return self._current

    def _now(self, now: datetime | None) -> datetime:
        return ensure_utc(now or self._clock(), "now")

    def login(self, name: str, password: str, *, now: datetime | None = None) -> LoginResult:
        """Try a name and password. On success the previous user (if any) is logged out first."""
        when = self._now(now)
        result = self._users.authenticate(name, password, now=when, via=self._via)
        if result.ok:
            if self._current is not None:
                self.logout(reason="another user logged in", now=when)
            self._current = result.user
            self._last_activity = when
        return result

    def refresh(self) -> UserInfo | None:
        """Read the logged-in user again (an admin changed their role or account meanwhile); their new record, or
        None when nobody is logged in. The caller decides what a disabled account means (log out)."""
        if self._current is not None:
            self._current = self._users.get(self._current.name)
        return self._current

    def logout(self, *, reason: str | None = None, now: datetime | None = None) -> None:
        """Log the current user out (recorded in the audit trail); nothing when nobody is logged in."""
        user, self._current, self._last_activity = self._current, None, None
        if user is not None:
            self._users.record_logout(user, reason=reason, now=self._now(now))

    def touch(self, now: datetime | None = None) -> None:
        """The user did something: restart the idle time."""
        if self._current is not None:
            self._last_activity = self._now(now)

    def idle_seconds(self, now: datetime | None = None) -> float:
        if self._current is None or self._last_activity is None:
            return 0.0
        return max(0.0, (self._now(now) - self._last_activity).total_seconds())

    def logout_if_idle(self, now: datetime | None = None) -> bool:
        """Log out after ``idle_timeout_s`` without activity; True when this call logged somebody out."""
        if self._current is None or not self.idle_timeout_s or self.idle_timeout_s <= 0:
            return False
        if self.idle_seconds(now) < float(self.idle_timeout_s):
            return False
        self.logout(reason="idle", now=now)
        return True

    def can(self, action: str) -> bool:
        return self._current is not None and allowed(self._current.role, action)

    def require(self, action: str) -> UserInfo:
        """The current user when they may do ``action``; PermissionDenied otherwise."""
        require(self._current, action)
        assert self._current is not None
        return self._current


__all__ = ["AuthSession"]
