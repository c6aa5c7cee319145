"""Each action tried by each role, allowed or refused exactly as the table in docs/roles.md says; the table in the
document is the one in db/roles.py."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from argon2 import PasswordHasher

import db.users as users_module
from db import roles
from db.auth import AuthSession
from db.auth_errors import PermissionDenied
from db.guarded import IDLE_LOGOUT_SETTING, GuardedDatabase
from db.repository import Database

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
FAIL = {"verdict": "FAIL", "probability": 0.9, "score": 0.8, "threshold": 0.5}


def doc_table() -> dict[tuple[str, str], bool]:
    """(role, action) -> allowed, read from the permissions table of docs/roles.md."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- permissions table: start -->", 1)[1].split("<!-- permissions table: end -->", 1)[0]
    lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip().startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "action"
    table = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        action = cells[0].strip("`")
        for role, cell in zip(header[1:], cells[1:], strict=False):
            assert cell in ("yes", "no"), f"{action}/{role}: {cell!r}"
            table[(role, action)] = cell == "yes"
    return table


TABLE = doc_table()


def test_the_document_and_the_code_hold_the_same_table() -> None:
    assert {role for role, _ in TABLE} == set(roles.ROLES)
    assert {action for _, action in TABLE} == set(roles.ACTIONS)
    assert TABLE == {(r, a): roles.allowed(r, a) for r in roles.ROLES for a in roles.ACTIONS}
    assert roles.markdown_table() in DOC.read_text(encoding="utf-8")


def test_unknown_actions_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        roles.allowed("admin", "launch_rockets")
    assert not roles.allowed("visitor", roles.INSPECT)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """One database with a user of each role, a product and a counter for fresh names and frames."""
    mp = pytest.MonkeyPatch()
    mp.setattr(users_module, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    mp.setattr(users_module, "_DUMMY_HASH", None)
    folder = tmp_path_factory.mktemp("roles")
    database = Database.open(folder / "data")
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-password")
    users = {"admin": admin}
    for role in ("operator", "engineer", "line"):
        users[role] = g.users.add(admin, f"{role}-user", role, f"{role}-password")
    counter = itertools.count(1)

    def frame() -> np.ndarray:
        return np.random.default_rng(next(counter)).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)

    product = g.create_product(admin, "widget", references=[frame()], calibration={"id": "c", "threshold": 0.5})
    try:
        yield {"g": g, "users": users, "product": product, "frame": frame, "counter": counter, "folder": folder}
    finally:
        database.close()
        mp.undo()


def attempt(station: dict[str, Any], actor, action: str) -> None:
    """Do ``action`` as ``actor`` through the database API the desktop and the headless commands use."""
    g: GuardedDatabase = station["g"]
    admin = station["users"]["admin"]
    product = station["product"]
    n = next(station["counter"])

    def inspection(verdict: dict = FAIL) -> int:
        return g.record_inspection(admin, product_id=product.id, result=verdict, image=station["frame"]()).id

    if action == roles.INSPECT:
        g.record_inspection(actor, product_id=product.id, result=FAIL, image=station["frame"]())
    elif action in (roles.AUTO_MODE, roles.CHAT):
        g.check(actor, action)
    elif action == roles.MARK_FOR_REVIEW:
        g.mark_for_review(actor, inspection(), note="please look")
    elif action == roles.REVIEW:
        g.review(actor, inspection(), "false_alarm", reason="good part")
    elif action == roles.EXPORT:
        g.export_history_csv(actor, None, station["folder"] / f"export-{n}.csv")
    elif action == roles.MANAGE_REFERENCES:
        g.add_references(actor, product.id, station["frame"]())
    elif action == roles.MANAGE_PRODUCTS:
        g.create_product(actor, f"product-{n}")
    elif action == roles.OVERRIDE_THRESHOLD:
        g.set_threshold_override(actor, product.id, 0.5 + n / 1000, reason="test of rights")
    elif action == roles.MANAGE_USERS:
        g.users.add(actor, f"new-user-{n}", "operator", "new-user-password")
    elif action == roles.STATION_SETTINGS:
        g.set_station_setting(actor, IDLE_LOGOUT_SETTING, 60 + n)
    else:  # pragma: no cover - a new action needs a line here
        raise AssertionError(f"no attempt written for {action}")


AUDITED = set(roles.ACTIONS) - {roles.INSPECT, roles.AUTO_MODE, roles.CHAT}


@pytest.mark.parametrize("role, action", sorted(TABLE), ids=lambda v: str(v))
def test_each_role_may_do_exactly_what_the_table_says(station, role: str, action: str) -> None:
    g: GuardedDatabase = station["g"]
    actor = station["users"][role]
    events = g.audit.count()
    if TABLE[(role, action)]:
        attempt(station, actor, action)
        if action in AUDITED:
            assert g.audit.list(limit=1)[0].actor == actor.name  # the change is in the trail, under its author
    else:
        before = g.audit.count()
        with pytest.raises(PermissionDenied) as info:
            attempt(station, actor, action)
        assert info.value.action == action and info.value.role == role
        # the inspection an attempt sets up (as admin) records nothing; the refused change records nothing either
        assert g.audit.count() == before
    assert g.audit.count() >= events
    assert g.audit.verify() is None


@pytest.mark.parametrize("role", roles.ROLES)
def test_the_login_session_answers_as_the_table(station, role: str) -> None:
    auth = AuthSession(station["g"].users)
    assert auth.login(
        f"{role}-user" if role != "admin" else "root", f"{role}-password" if role != "admin" else "admin-password"
    ).ok
    for action in roles.ACTIONS:
        assert auth.can(action) is TABLE[(role, action)], action
        if TABLE[(role, action)]:
            assert auth.require(action).role == role
        else:
            with pytest.raises(PermissionDenied):
                auth.require(action)
    auth.logout()


def test_actions_are_named_in_words_for_refusals() -> None:
    assert set(roles.ACTION_WORDS) == set(roles.ACTIONS)
    with pytest.raises(PermissionDenied, match=re.escape("anna (line) may not ask in the chat")):
        roles.require(type("U", (), {"name": "anna", "role": "line"})(), roles.CHAT)
