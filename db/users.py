"""Users of the station: argon2 password hashes, roles, lock-out after repeated failed logins.

Passwords are never stored, logged or put in the audit trail: only ``argon2-cffi``'s encoded hash is kept (it holds
its own salt and parameters, and is upgraded at the next login when the parameters change).

Lock-out: after ``MAX_FAILED_LOGINS`` wrong passwords in a row an account is locked for ``LOCKOUT`` (5 failures ->
5 minutes); while locked even the right password is refused. A successful login resets the count.

First-run set-up: while the table is empty, :meth:`UserRepository.add` accepts ``actor=None`` and then only for an
``admin``. After that every change needs an acting user whose role may ``manage_users`` (an admin); any user may
change their own password by giving the current one.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from . import audit
from .auth_errors import LastAdminError, PermissionDenied, WeakPasswordError
from .errors import DuplicateError, NotFoundError, ValidationError
from .models import NAME_LEN, User
from .roles import ADMIN, MANAGE_USERS, check_role, require
from .session import reading, transaction
from .types import ensure_utc, utc_now

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
FIRST_RUN_ACTOR = "first-run set-up"

hasher = PasswordHasher()  # argon2id with argon2-cffi's recommended parameters; tests may swap in a cheaper one
_DUMMY_HASH: str | None = None  # verified against for unknown names, so they take as long as known ones


@dataclass(frozen=True)
class UserInfo:
    """A user as the rest of the station sees it (never the password hash)."""

    id: int
    name: str
    role: str
    enabled: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime

    def locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > ensure_utc(now or utc_now(), "now")


class LoginStatus(str, Enum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"  # unknown name or wrong password (not told apart, on purpose)
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    user: UserInfo | None = None
    locked_until: datetime | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status is LoginStatus.OK


def user_info(row: User) -> UserInfo:
    return UserInfo(
        id=row.id,
        name=row.name,
        role=row.role,
        enabled=bool(row.enabled),
        failed_logins=int(row.failed_logins or 0),
        locked_until=row.locked_until,
        created_at=row.created_at,
    )


def clean_user_name(name: str) -> str:
    cleaned = " ".join(str(name or "").split())
    if not cleaned:
        raise ValidationError("A user needs a name. Type one and try again.")
    if len(cleaned) > NAME_LEN:
        raise ValidationError(f"The user name is too long ({len(cleaned)} characters; at most {NAME_LEN}).")
    if any(unicodedata.category(c).startswith("C") for c in cleaned):
        raise ValidationError("A user name cannot hold control characters.")
    return cleaned


def check_password(password: str) -> str:
    if not isinstance(password, str):
        raise WeakPasswordError("The password must be text.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"The password is too long (at most {MAX_PASSWORD_LENGTH} characters).")
    return password


def hash_password(password: str) -> str:
    return hasher.hash(check_password(password))


def _verify(encoded: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if encoded is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hasher.hash("not a password of anybody")
        encoded = _DUMMY_HASH
        try:
            hasher.verify(encoded, password or "")
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return bool(hasher.verify(encoded, password or ""))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def user_row(session: Session, name: str) -> User | None:
    cleaned = " ".join(str(name or "").split())
    return session.scalars(select(User).where(func.lower(User.name) == cleaned.lower())).one_or_none()


def acting_row(session: Session, actor: UserInfo | None, action: str) -> User:
    """The acting user's row as the database holds it now (role and enabled flag read fresh, never trusted from
    the caller's copy); PermissionDenied unless it exists, is enabled and its role may do ``action``."""
    if actor is None:
        require(None, action)
        raise PermissionDenied("Log in first.", action=action, role=None, user=None)  # require raised already
    row = session.get(User, int(actor.id))
    if row is None or row.name != actor.name:
        raise PermissionDenied(
            f"The user {actor.name!r} no longer exists; log in again.", action=action, role=None, user=actor.name
        )
    if not row.enabled:
        raise PermissionDenied(
            f"The account {row.name!r} is disabled; ask an admin.", action=action, role=row.role, user=row.name
        )
    require(user_info(row), action)
    return row


def _enabled_admins(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(User).where(User.role == ADMIN, User.enabled.is_(True))) or 0
    )


class UserRepository:
    def __init__(self, maker: sessionmaker[Session]) -> None:
        self._maker = maker

    # -- reading -----------------------------------------------------------------------------------------------
    def count(self) -> int:
        with reading(self._maker, "count the users") as session:
            return int(session.scalar(select(func.count()).select_from(User)) or 0)

    def list(self) -> list[UserInfo]:
        with reading(self._maker, "list the users") as session:
            return [user_info(r) for r in session.scalars(select(User).order_by(func.lower(User.name))).all()]

    def get(self, name: str) -> UserInfo:
        with reading(self._maker, "read the user") as session:
            row = user_row(session, name)
            if row is None:
                raise NotFoundError(f"There is no user named {name!r}. 'main.py users list' shows who exists.")
            return user_info(row)

    # -- changes -----------------------------------------------------------------------------------------------
    def add(
        self, actor: UserInfo | None, name: str, role: str, password: str, *, now: datetime | None = None
    ) -> UserInfo:
        """Create a user. ``actor=None`` only while no user exists, and then the role must be admin."""
        name = clean_user_name(name)
        try:
            role = check_role(role)
        except ValueError as exc:
            raise ValidationError(str(exc).capitalize() + ".") from None
        encoded = hash_password(password)
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, f"add the user {name!r}") as session:
            if actor is None:
                if session.scalar(select(func.count()).select_from(User)):
                    raise PermissionDenied(
                        "Users exist already: log in as an admin to add one.", action=MANAGE_USERS, role=None, user=None
                    )
                if role != ADMIN:
                    raise PermissionDenied(
                        f"The first user of the station must be an admin (got role {role!r}); add an admin first.",
                        action=MANAGE_USERS,
                        role=None,
                        user=None,
                    )
                by = FIRST_RUN_ACTOR
            else:
                by = acting_row(session, actor, MANAGE_USERS).name
            if user_row(session, name) is not None:
                raise DuplicateError(f"A user named {name!r} already exists. Choose another name.")
            row = User(name=name, role=role, password_hash=encoded, enabled=True, failed_logins=0, created_at=when)
            session.add(row)
            session.flush()
            audit.append_event(
                session,
                actor=by,
                action=audit.USER_ADDED,
                target=f"user:{name}",
                after={"name": name, "role": role, "enabled": True},
                at=when,
            )
            return user_info(row)

    def set_enabled(self, actor: UserInfo, name: str, enabled: bool, *, now: datetime | None = None) -> UserInfo:
        when = ensure_utc(now or utc_now(), "now")
        verb = "enable" if enabled else "disable"
        with transaction(self._maker, f"{verb} the user {name!r}") as session:
            by = acting_row(session, actor, MANAGE_USERS)
            row = self._target(session, name)
            before = bool(row.enabled)
            if before and not enabled and row.role == ADMIN and _enabled_admins(session) <= 1:
                raise LastAdminError(f"{row.name} is the only enabled admin; add or enable another admin first.")
            row.enabled = bool(enabled)
            if enabled:
                row.failed_logins, row.locked_until = 0, None
            session.flush()
            audit.append_event(
                session,
                actor=by.name,
                action=audit.USER_ENABLED if enabled else audit.USER_DISABLED,
                target=f"user:{row.name}",
                before={"enabled": before},
                after={"enabled": bool(enabled)},
                at=when,
            )
            return user_info(row)

    def disable(self, actor: UserInfo, name: str, *, now: datetime | None = None) -> UserInfo:
        return self.set_enabled(actor, name, False, now=now)

    def enable(self, actor: UserInfo, name: str, *, now: datetime | None = None) -> UserInfo:
        return self.set_enabled(actor, name, True, now=now)

    def set_role(self, actor: UserInfo, name: str, role: str, *, now: datetime | None = None) -> UserInfo:
        try:
            role = check_role(role)
        except ValueError as exc:
            raise ValidationError(str(exc).capitalize() + ".") from None
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, f"change the role of {name!r}") as session:
            by = acting_row(session, actor, MANAGE_USERS)
            row = self._target(session, name)
            before = row.role
            if before == ADMIN and role != ADMIN and row.enabled and _enabled_admins(session) <= 1:
                raise LastAdminError(f"{row.name} is the only enabled admin; make another user admin first.")
            row.role = role
            session.flush()
            audit.append_event(
                session,
                actor=by.name,
                action=audit.USER_ROLE_CHANGED,
                target=f"user:{row.name}",
                before={"role": before},
                after={"role": role},
                at=when,
            )
            return user_info(row)

    def set_password(
        self,
        actor: UserInfo,
        name: str,
        new_password: str,
        *,
        current_password: str | None = None,
        now: datetime | None = None,
    ) -> UserInfo:
        """An admin sets anybody's password; any user changes their own with ``current_password``."""
        encoded = hash_password(new_password)
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, f"change the password of {name!r}") as session:
            row = self._target(session, name)
            own = actor is not None and row.id == actor.id
            if own:
                me = session.get(User, int(actor.id))
                if me is None or not me.enabled:
                    raise PermissionDenied(f"The account {actor.name!r} is disabled; ask an admin.", user=actor.name)
                if not _verify(me.password_hash, current_password or ""):
                    raise PermissionDenied(
                        "The current password is wrong, so the password was not changed.", user=actor.name
                    )
                by = me
            else:
                by = acting_row(session, actor, MANAGE_USERS)
            row.password_hash = encoded
            row.failed_logins, row.locked_until = 0, None
            session.flush()
            audit.append_event(
                session,
                actor=by.name,
                action=audit.PASSWORD_CHANGED,
                target=f"user:{row.name}",
                after={"by_self": own},
                at=when,
            )
            return user_info(row)

    @staticmethod
    def _target(session: Session, name: str) -> User:
        row = user_row(session, name)
        if row is None:
            raise NotFoundError(f"There is no user named {name!r}. 'main.py users list' shows who exists.")
        return row

    # -- logging in --------------------------------------------------------------------------------------------
    def authenticate(self, name: str, password: str, *, now: datetime | None = None, via: str = "") -> LoginResult:
        """Check a name and password; records ``login`` or ``login_failed`` in the audit trail (never the
        password). Wrong passwords count towards the lock-out."""
        when = ensure_utc(now or utc_now(), "now")
        given = " ".join(str(name or "").split())[:NAME_LEN]
        extra = {"via": via} if via else {}
        with transaction(self._maker, "log in") as session:
            row = user_row(session, given)
            if row is None:
                _verify(None, password)
                audit.append_event(
                    session,
                    actor=given or "?",
                    action=audit.LOGIN_FAILED,
                    target=f"user:{given}",
                    after={"reason": "unknown user", **extra},
                    at=when,
                )
                return LoginResult(LoginStatus.BAD_CREDENTIALS, message="Wrong name or password.")
            if row.locked_until is not None and row.locked_until > when:
                audit.append_event(
                    session,
                    actor=row.name,
                    action=audit.LOGIN_FAILED,
                    target=f"user:{row.name}",
                    after={"reason": "locked", **extra},
                    at=when,
                )
                return LoginResult(
                    LoginStatus.LOCKED,
                    locked_until=row.locked_until,
                    message=f"The account {row.name!r} is locked after {MAX_FAILED_LOGINS} wrong passwords until "
                    f"{row.locked_until:%H:%M:%S} UTC; wait, or ask an admin to set a new password.",
                )
            if not _verify(row.password_hash, password):
                row.failed_logins = int(row.failed_logins or 0) + 1
                locked = row.failed_logins >= MAX_FAILED_LOGINS
                after: dict[str, object] = {"reason": "wrong password", "failed_logins": row.failed_logins, **extra}
                if locked:
                    row.locked_until = when + LOCKOUT
                    row.failed_logins = 0
                    after["locked_until"] = row.locked_until
                session.flush()
                audit.append_event(
                    session, actor=row.name, action=audit.LOGIN_FAILED, target=f"user:{row.name}", after=after, at=when
                )
                if locked:
                    return LoginResult(
                        LoginStatus.LOCKED,
                        locked_until=row.locked_until,
                        message=f"Wrong password {MAX_FAILED_LOGINS} times: the account {row.name!r} is locked for "
                        f"{int(LOCKOUT.total_seconds() // 60)} minutes.",
                    )
                return LoginResult(LoginStatus.BAD_CREDENTIALS, message="Wrong name or password.")
            if not row.enabled:
                audit.append_event(
                    session,
                    actor=row.name,
                    action=audit.LOGIN_FAILED,
                    target=f"user:{row.name}",
                    after={"reason": "disabled", **extra},
                    at=when,
                )
                return LoginResult(LoginStatus.DISABLED, message=f"The account {row.name!r} is disabled; ask an admin.")
            row.failed_logins, row.locked_until = 0, None
            if hasher.check_needs_rehash(row.password_hash):
                row.password_hash = hasher.hash(password)
            session.flush()
            audit.append_event(
                session,
                actor=row.name,
                action=audit.LOGIN,
                target=f"user:{row.name}",
                after={"role": row.role, **extra},
                at=when,
            )
            return LoginResult(LoginStatus.OK, user=user_info(row), message=f"Logged in as {row.name} ({row.role}).")

    def record_logout(self, user: UserInfo, *, reason: str | None = None, now: datetime | None = None) -> None:
        """Record a logout (``reason`` e.g. "idle" for an automatic one)."""
        when = ensure_utc(now or utc_now(), "now")
        with transaction(self._maker, "log out") as session:
            audit.append_event(
                session, actor=user.name, action=audit.LOGOUT, target=f"user:{user.name}", reason=reason, at=when
            )


__all__ = [
    "FIRST_RUN_ACTOR",
    "LOCKOUT",
    "MAX_FAILED_LOGINS",
    "MIN_PASSWORD_LENGTH",
    "LoginResult",
    "LoginStatus",
    "UserInfo",
    "UserRepository",
    "acting_row",
    "clean_user_name",
    "hash_password",
    "user_info",
]
