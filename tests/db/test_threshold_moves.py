"""The threshold-move guard of overrides: the product's recent recorded failures are compared with the new
threshold before it is saved; above the admin's share a second engineer or admin must confirm with their own
password and a reason; always in the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.threshold_guard import ThresholdMove
from db.auth_errors import AuthenticationError, PermissionDenied, ReasonRequiredError
from db.errors import ValidationError
from db.guarded import GuardedDatabase
from db.threshold_moves import THRESHOLD_GUARD_SETTING, SecondConfirmation, SecondConfirmationRequired

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def line(database, make_frame, make_result):
    """A product calibrated at 0.5 with 16 recorded failures scoring 0.6 .. 2.1 (4 at each of four places)."""
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-password")
    eve = g.users.add(admin, "eve", "engineer", "engineer-password")
    bob = g.users.add(admin, "bob", "engineer", "bob-password")
    anna = g.users.add(admin, "anna", "operator", "operator-password")
    product = g.create_product(eve, "widget", references=[make_frame(1)], calibration={"id": "c1", "threshold": 0.5})
    places = ("top left", "center", "bottom", "right")
    ids = []
    for i in range(16):
        rec = database.inspections.record(
            product_id=product.id,
            result=make_result("FAIL", 0.6 + 0.1 * i, threshold=0.5, locations=(places[i % 4],)),
            image=make_frame(100 + i),
            time=T0 + timedelta(minutes=i),
        )
        ids.append(rec.id)
    return g, admin, eve, bob, anna, product, ids


def test_an_override_that_lets_every_failure_pass_needs_a_second_person(line) -> None:
    g, _admin, eve, _bob, _anna, product, _ids = line
    events = g.audit.count()
    with pytest.raises(SecondConfirmationRequired) as err:
        g.set_threshold_override(eve, product.id, 1000.0, reason="everything passes")
    move = err.value.move
    assert (move.failures, move.would_pass) == (16, 16)
    assert move.would_pass_by_location == {"top left": 4, "center": 4, "bottom": 4, "right": 4}
    assert "16 of the 16 recent recorded failures (100%) would now PASS" in str(err.value)
    assert "more than the 10%" in str(err.value)
    assert g.database.products.get(product.id).threshold_override is None and g.audit.count() == events


def test_the_second_person_confirms_and_the_move_is_in_the_audit_trail(line) -> None:
    g, _admin, eve, bob, _anna, product, _ids = line
    info = g.set_threshold_override(
        eve,
        product.id,
        1.0,
        reason="new lighting",
        confirmation=SecondConfirmation("bob", "bob-password", "checked 4 parts by hand"),
    )
    assert info.threshold_override == 1.0
    event = g.audit.list(action="threshold_override", limit=1)[0]
    assert event.actor == "eve" and event.reason == "new lighting"
    assert event.after["confirmed_by"] == "bob" and event.after["confirmation_reason"] == "checked 4 parts by hand"
    assert event.after["move"]["would_pass"] == 5 and event.after["move"]["failures_checked"] == 16  # 0.6 .. 1.0
    assert event.after["guard_share"] == pytest.approx(0.1)
    logins = [(e.action, e.actor, (e.after or {}).get("via")) for e in g.audit.list(newest_first=False)]
    assert ("login", "bob", "second confirmation") in logins
    assert g.audit.verify() is None
    assert bob.name == "bob"


@pytest.mark.parametrize(
    "confirmation, error",
    [
        (SecondConfirmation("eve", "engineer-password", "me again"), PermissionDenied),  # the same person
        (SecondConfirmation("anna", "operator-password", "I saw it"), PermissionDenied),  # an operator
        (SecondConfirmation("bob", "wrong", "sure"), AuthenticationError),
        (SecondConfirmation("bob", "bob-password", "  "), ReasonRequiredError),
    ],
)
def test_a_confirmation_that_does_not_count(line, confirmation, error) -> None:
    g, _admin, eve, _bob, _anna, product, _ids = line
    with pytest.raises(error):
        g.set_threshold_override(eve, product.id, 5.0, reason="x", confirmation=confirmation)
    assert g.database.products.get(product.id).threshold_override is None


def test_a_small_move_needs_nobody_else_but_is_measured_and_audited(line) -> None:
    g, _admin, eve, _bob, _anna, product, _ids = line
    g.set_threshold_override(eve, product.id, 0.6, reason="one borderline part")  # 0.6 passes: 1 of 16 = 6 %
    event = g.audit.list(action="threshold_override", limit=1)[0]
    assert event.after["move"]["would_pass"] == 1 and "confirmed_by" not in event.after
    g.set_threshold_override(eve, product.id, 0.3, reason="stricter")  # lower: nothing passes
    assert g.audit.list(action="threshold_override", limit=1)[0].after["move"]["would_pass"] == 0


def test_the_admin_sets_the_share(line) -> None:
    g, admin, eve, _bob, _anna, product, _ids = line
    with pytest.raises(PermissionDenied):
        g.set_station_setting(eve, THRESHOLD_GUARD_SETTING, 0.5)
    for bad in (1.5, -0.1, "half", True):
        with pytest.raises(ValidationError):
            g.set_station_setting(admin, THRESHOLD_GUARD_SETTING, bad)
    g.set_station_setting(admin, THRESHOLD_GUARD_SETTING, 0.5)
    g.set_threshold_override(eve, product.id, 1.2, reason="7 of 16 pass: under half")
    g.set_station_setting(admin, THRESHOLD_GUARD_SETTING, 0.0)  # any failure passing needs a second person
    with pytest.raises(SecondConfirmationRequired):
        g.set_threshold_override(eve, product.id, 1.25, reason="a little more")


def test_failures_reviewed_as_false_alarms_are_not_counted(line) -> None:
    g, _admin, eve, _bob, _anna, product, ids = line
    for inspection_id in ids[:2]:  # the two lowest (0.6, 0.7)
        g.review(eve, inspection_id, "false_alarm", reason="dust")
    move = g.preview_threshold_move(product.id, 0.75)
    assert (move.failures, move.would_pass) == (14, 0)
    assert move.threshold_before == 0.5


def test_clearing_an_override_needs_no_measurement(line) -> None:
    g, _admin, eve, bob, _anna, product, _ids = line
    g.set_threshold_override(
        eve, product.id, 2.5, reason="x", confirmation=SecondConfirmation("bob", "bob-password", "ok")
    )
    g.set_threshold_override(eve, product.id, None, reason="back to the calibration")
    assert g.database.products.get(product.id).threshold_override is None
    assert bob.role == "engineer"


def test_an_engineers_recalibration_is_guarded_like_an_override(line) -> None:
    g, _admin, eve, _bob, _anna, product, _ids = line
    with pytest.raises(SecondConfirmationRequired) as err:
        g.save_calibration(eve, product.id, {"id": "c2", "threshold": 3.0}, reason="recalibrated")
    assert err.value.move.would_pass == 16
    assert g.database.products.get(product.id).calibration["threshold"] == 0.5
    g.save_calibration(
        eve,
        product.id,
        {"id": "c2", "threshold": 3.0},
        reason="recalibrated",
        confirmation=SecondConfirmation("bob", "bob-password", "new fixture"),
    )
    event = g.audit.list(action="product_recalibrated", limit=1)[0]
    assert event.after["threshold"] == 3.0 and event.after["confirmed_by"] == "bob"
    # the station's own rebuild from references already approved is not a person's move
    g.save_calibration(eve, product.id, {"id": "c3", "threshold": 4.0}, automatic=True)
    assert g.database.products.get(product.id).calibration["id"] == "c3"


def _reference_move(would_pass: int) -> ThresholdMove:
    """What the reviewer's preview measured for a false alarm becoming a reference (core/reference_preview.py)."""
    return ThresholdMove(0.5, 0.9, 16, would_pass, {"center": would_pass} if would_pass else {})


def test_a_false_alarm_that_would_let_many_failures_pass_as_a_reference_needs_a_second_person(line) -> None:
    g, _admin, eve, _bob, _anna, product, ids = line
    references = g.database.references.list(product.id)
    events = g.audit.count()
    with pytest.raises(SecondConfirmationRequired) as err:
        g.mark_false_alarm(eve, ids[0], reason="odd light", add_as_reference=True, reference_move=_reference_move(8))
    assert "8 of the 16 recent recorded failures (50%) would now PASS" in str(err.value)
    assert "confirm this reference" in str(err.value)
    assert g.database.references.list(product.id) == references and g.audit.count() == events  # nothing saved
    assert g.database.inspections.get(ids[0]).review_status == "none"


def test_the_second_person_confirms_the_reference_and_the_move_is_audited(line) -> None:
    g, _admin, eve, _bob, _anna, product, ids = line
    before = len(g.database.references.list(product.id))
    g.mark_false_alarm(
        eve,
        ids[0],
        reason="odd light",
        add_as_reference=True,
        reference_move=_reference_move(8),
        confirmation=SecondConfirmation("bob", "bob-password", "the light changed on line 2"),
    )
    assert len(g.database.references.list(product.id)) == before + 1
    event = g.audit.list(action="relabel", limit=1)[0]
    assert event.after["confirmed_by"] == "bob" and event.after["reference_move"]["would_pass"] == 8
    assert g.audit.verify() is None


def test_a_false_alarm_reference_that_moves_little_needs_nobody_else_but_is_audited(line) -> None:
    g, _admin, eve, _bob, _anna, _product, ids = line
    g.mark_false_alarm(eve, ids[0], reason="odd light", add_as_reference=True, reference_move=_reference_move(1))
    event = g.audit.list(action="relabel", limit=1)[0]
    assert event.after["reference_move"]["would_pass"] == 1 and "confirmed_by" not in event.after
