"""Users: first-run admin, argon2 hashes, lock-out, disabled accounts, password changes, the last admin, and the
Qt-free login session (login / logout / idle logout) the desktop builds on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import db.users as users_module
from db.auth import AuthSession
from db.auth_errors import LastAdminError, PermissionDenied, WeakPasswordError
from db.errors import DuplicateError, NotFoundError, ValidationError
from db.guarded import GuardedDatabase
from db.models import User
from db.repository import Database
from db.roles import MANAGE_USERS, REVIEW
from db.users import LOCKOUT, MAX_FAILED_LOGINS, LoginStatus

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def guarded(database: Database) -> GuardedDatabase:
    return GuardedDatabase(database)


@pytest.fixture
def admin(guarded: GuardedDatabase):
    return guarded.users.add(None, "root", "admin", "admin-password")


def actions(guarded: GuardedDatabase) -> list[tuple[str, str, object]]:
    return [(e.action, e.actor, e.after) for e in guarded.audit.list(newest_first=False)]


def test_first_user_must_be_an_admin_and_needs_no_login(guarded: GuardedDatabase) -> None:
    with pytest.raises(PermissionDenied, match="first user of the station must be an admin"):
        guarded.users.add(None, "anna", "operator", "operator-password")
    assert guarded.users.count() == 0 and guarded.audit.count() == 0
    root = guarded.users.add(None, "root", "admin", "admin-password")
    assert (root.name, root.role, root.enabled) == ("root", "admin", True)
    with pytest.raises(PermissionDenied, match="Users exist already"):
        guarded.users.add(None, "second", "admin", "admin-password")
    assert actions(guarded) == [("user_added", "first-run set-up", {"name": "root", "role": "admin", "enabled": True})]


def test_passwords_are_argon2_hashes_never_clear_text(guarded: GuardedDatabase, admin, database: Database) -> None:
    guarded.users.add(admin, "anna", "operator", "Operator-Secret-1")
    with database.engine.connect() as conn:
        hashes = dict(conn.execute(select(User.name, User.password_hash)).all())
    assert all(h.startswith("$argon2id$") for h in hashes.values())
    assert "Operator-Secret-1" not in hashes["anna"] and hashes["anna"] != hashes["root"]
    assert not hasattr(guarded.users.get("anna"), "password_hash")  # UserInfo never carries it
    for event in guarded.audit.list():
        assert "Operator-Secret-1" not in repr(event)


def test_names_roles_and_passwords_are_checked(guarded: GuardedDatabase, admin) -> None:
    with pytest.raises(WeakPasswordError, match="at least 8"):
        guarded.users.add(admin, "anna", "operator", "short")
    with pytest.raises(ValidationError, match="Unknown role"):
        guarded.users.add(admin, "anna", "superuser", "long-enough-password")
    with pytest.raises(ValidationError, match="needs a name"):
        guarded.users.add(admin, "   ", "operator", "long-enough-password")
    guarded.users.add(admin, "  anna  ", "line", "long-enough-password")
    with pytest.raises(DuplicateError):
        guarded.users.add(admin, "ANNA", "operator", "long-enough-password")
    assert [(u.name, u.role) for u in guarded.users.list()] == [("anna", "line"), ("root", "admin")]


def test_lock_out_after_repeated_failures(guarded: GuardedDatabase, admin) -> None:
    guarded.users.add(admin, "anna", "operator", "right-password")
    for i in range(MAX_FAILED_LOGINS - 1):
        result = guarded.users.authenticate("anna", f"wrong-{i}", now=T0)
        assert result.status is LoginStatus.BAD_CREDENTIALS and not result.ok
    assert guarded.users.get("anna").failed_logins == MAX_FAILED_LOGINS - 1
    locked = guarded.users.authenticate("anna", "wrong-last", now=T0)
    assert locked.status is LoginStatus.LOCKED and locked.locked_until == T0 + LOCKOUT
    # while locked, even the right password is refused
    assert (
        guarded.users.authenticate("anna", "right-password", now=T0 + LOCKOUT - timedelta(seconds=1)).status
        is LoginStatus.LOCKED
    )
    ok = guarded.users.authenticate("anna", "right-password", now=T0 + LOCKOUT + timedelta(seconds=1))
    assert ok.ok and ok.user.name == "anna" and ok.user.failed_logins == 0 and ok.user.locked_until is None
    failed = list(guarded.audit.list(action="login_failed", newest_first=False))
    assert [e.after["reason"] for e in failed] == ["wrong password"] * MAX_FAILED_LOGINS + ["locked"]
    assert guarded.audit.verify() is None


def test_a_successful_login_resets_the_count(guarded: GuardedDatabase, admin) -> None:
    guarded.users.add(admin, "anna", "operator", "right-password")
    for _ in range(MAX_FAILED_LOGINS - 1):
        guarded.users.authenticate("anna", "nope-nope")
    assert guarded.users.authenticate("anna", "right-password").ok
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert guarded.users.authenticate("anna", "nope-nope").status is LoginStatus.BAD_CREDENTIALS


def test_unknown_names_and_disabled_accounts(guarded: GuardedDatabase, admin) -> None:
    unknown = guarded.users.authenticate("ghost", "whatever-password")
    assert unknown.status is LoginStatus.BAD_CREDENTIALS and unknown.message == "Wrong name or password."
    anna = guarded.users.add(admin, "anna", "operator", "right-password")
    guarded.users.disable(admin, "anna")
    assert guarded.users.authenticate("anna", "right-password").status is LoginStatus.DISABLED
    assert (
        guarded.users.authenticate("anna", "wrong-password").status is LoginStatus.BAD_CREDENTIALS
    )  # says nothing more
    with pytest.raises(PermissionDenied, match="disabled"):
        guarded.check(anna, "inspect")  # a session of a user disabled since is refused too
    guarded.users.enable(admin, "anna")
    assert guarded.users.authenticate("anna", "right-password").ok
    kinds = [a for a, _, _ in actions(guarded)]
    assert kinds.count("user_disabled") == 1 and kinds.count("user_enabled") == 1 and kinds[-1] == "login"


def test_only_admins_manage_users_and_the_role_is_read_from_the_database(guarded: GuardedDatabase, admin) -> None:
    eng = guarded.users.add(admin, "eve", "engineer", "engineer-password")
    op = guarded.users.add(admin, "anna", "operator", "operator-password")
    for actor in (eng, op):
        with pytest.raises(PermissionDenied, match="may not manage users") as info:
            guarded.users.add(actor, "mallory", "admin", "mallory-password")
        assert info.value.action == MANAGE_USERS and info.value.role == actor.role
        with pytest.raises(PermissionDenied):
            guarded.users.disable(actor, "root")
        with pytest.raises(PermissionDenied):
            guarded.users.set_password(actor, "root", "new-root-password")
    forged = replace(op, role="admin")  # a hand-made UserInfo gives no more rights than the row
    with pytest.raises(PermissionDenied, match=r"anna \(operator\)"):
        guarded.users.add(forged, "mallory", "admin", "mallory-password")
    with pytest.raises(PermissionDenied, match="no longer exists"):
        guarded.users.add(replace(admin, id=999), "mallory", "admin", "mallory-password")
    with pytest.raises(PermissionDenied, match="Log in"):
        guarded.check(None, REVIEW)
    assert [u.name for u in guarded.users.list()] == ["anna", "eve", "root"]
    guarded.users.set_role(admin, "anna", "engineer")
    assert guarded.users.get("anna").role == "engineer"
    assert guarded.audit.list(action="user_role_changed")[0].after == {"role": "engineer"}


def test_password_changes(guarded: GuardedDatabase, admin) -> None:
    op = guarded.users.add(admin, "anna", "operator", "operator-password")
    with pytest.raises(PermissionDenied, match="current password is wrong"):
        guarded.users.set_password(op, "anna", "brand-new-password", current_password="not-it-at-all")
    guarded.users.set_password(op, "anna", "brand-new-password", current_password="operator-password")
    assert guarded.users.authenticate("anna", "brand-new-password").ok
    guarded.users.set_password(admin, "anna", "admin-chosen-password")  # an admin needs no current password
    assert not guarded.users.authenticate("anna", "brand-new-password").ok
    assert guarded.users.authenticate("anna", "admin-chosen-password").ok
    events = guarded.audit.list(action="password_changed", newest_first=False)
    assert [(e.actor, e.after) for e in events] == [("anna", {"by_self": True}), ("root", {"by_self": False})]
    with pytest.raises(NotFoundError):
        guarded.users.set_password(admin, "ghost", "whatever-password")


def test_an_admin_password_reset_unlocks(guarded: GuardedDatabase, admin) -> None:
    guarded.users.add(admin, "anna", "operator", "operator-password")
    for _ in range(MAX_FAILED_LOGINS):
        guarded.users.authenticate("anna", "nope-nope")
    assert guarded.users.get("anna").locked()
    guarded.users.set_password(admin, "anna", "fresh-password")
    assert guarded.users.authenticate("anna", "fresh-password").ok


def test_the_last_enabled_admin_stays(guarded: GuardedDatabase, admin) -> None:
    with pytest.raises(LastAdminError):
        guarded.users.disable(admin, "root")
    with pytest.raises(LastAdminError):
        guarded.users.set_role(admin, "root", "engineer")
    second = guarded.users.add(admin, "boss", "admin", "boss-password")
    guarded.users.disable(second, "root")
    assert not guarded.users.get("root").enabled


def test_hashes_are_upgraded_at_login_when_parameters_change(
    guarded: GuardedDatabase, admin, database, monkeypatch
) -> None:
    guarded.users.add(admin, "anna", "operator", "operator-password")
    with database.engine.connect() as conn:
        old = conn.execute(select(User.password_hash).where(User.name == "anna")).scalar_one()
    monkeypatch.setattr(users_module, "hasher", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert guarded.users.authenticate("anna", "operator-password").ok
    with database.engine.connect() as conn:
        new = conn.execute(select(User.password_hash).where(User.name == "anna")).scalar_one()
    assert new != old and "t=2" in new
    assert guarded.users.authenticate("anna", "operator-password").ok


def test_auth_session_login_logout_and_idle_logout(guarded: GuardedDatabase, admin) -> None:
    guarded.users.add(admin, "anna", "operator", "operator-password")
    clock = [T0]
    auth = AuthSession(guarded.users, idle_timeout_s=300, clock=lambda: clock[0])
    assert auth.current is None and not auth.can("inspect")
    with pytest.raises(PermissionDenied, match="Log in"):
        auth.require("inspect")
    bad = auth.login("anna", "not-the-password")
    assert not bad.ok and auth.current is None
    good = auth.login("anna", "operator-password")
    assert good.ok and auth.current.name == "anna"
    assert auth.can("inspect") and auth.can("mark_for_review") and not auth.can("review")
    assert auth.require("chat").name == "anna"
    with pytest.raises(PermissionDenied, match="may not review"):
        auth.require("review")
    clock[0] = T0 + timedelta(seconds=200)
    auth.touch()
    clock[0] = T0 + timedelta(seconds=450)
    assert not auth.logout_if_idle()  # 250 s since the last activity
    clock[0] = T0 + timedelta(seconds=500)
    assert auth.logout_if_idle() and auth.current is None
    assert not auth.logout_if_idle()
    assert auth.login("root", "admin-password").ok
    assert auth.login("anna", "operator-password").ok  # the next user logs in: root is logged out first
    auth.logout()
    auth.logout()  # nobody logged in: nothing recorded
    trail = [(e.action, e.actor, e.reason) for e in guarded.audit.list(newest_first=False)][2:]
    assert trail == [
        ("login_failed", "anna", None),
        ("login", "anna", None),
        ("logout", "anna", "idle"),
        ("login", "root", None),
        ("login", "anna", None),  # checked first: a failed login would leave root logged in
        ("logout", "root", "another user logged in"),
        ("logout", "anna", None),
    ]
    assert guarded.audit.verify() is None


def test_users_live_in_their_table_only(tmp_path: Path) -> None:
    with Database.open(tmp_path / "d") as database:
        g = GuardedDatabase(database)
        g.users.add(None, "root", "admin", "admin-password")
    with Database.open(tmp_path / "d") as database:  # a second start sees the same users and trail
        g = GuardedDatabase(database)
        assert [u.name for u in g.users.list()] == ["root"] and g.audit.verify() is None
