"""Guarded changes: reasons for overrides and relabels, reviews that supersede (the verdict is never edited), the
audit event of each change, and a CSV export no spreadsheet can read a formula or an extra row from."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from db.auth_errors import PermissionDenied, ReasonRequiredError
from db.errors import DuplicateError, ProductInUseError, ValidationError
from db.guarded import IDLE_LOGOUT_SETTING, GuardedDatabase
from db.history import csv_text, read_csv
from db.records import HistoryFilter
from db.repository import Database

FAIL = {"verdict": "FAIL", "probability": 0.9, "score": 0.8, "threshold": 0.5}
PASS = {"verdict": "PASS", "probability": 0.1, "score": 0.2, "threshold": 0.5}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NASTY = ["\r=1+1", "\n@SUM(A1)", "=cmd", "+1", "-1", "@x", "\tHYPERLINK()", "a\r\n=b", "  =x", "x\u2028=y", "ok\r"]


pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def g(database: Database) -> GuardedDatabase:
    return GuardedDatabase(database)


@pytest.fixture
def people(g: GuardedDatabase):
    admin = g.users.add(None, "root", "admin", "admin-password")
    eng = g.users.add(admin, "eve", "engineer", "engineer-password")
    op = g.users.add(admin, "anna", "operator", "operator-password")
    return admin, eng, op


@pytest.fixture
def product(g: GuardedDatabase, people, make_frame):
    _, eng, _ = people
    return g.create_product(eng, "widget", references=[make_frame(1)], calibration={"id": "c1", "threshold": 0.5})


def last(g: GuardedDatabase):
    return g.audit.list(limit=1)[0]


def test_threshold_override_needs_the_role_and_a_reason(g: GuardedDatabase, people, product) -> None:
    _, eng, op = people
    before = g.audit.count()
    with pytest.raises(PermissionDenied):
        g.set_threshold_override(op, product.id, 1000.0, reason="everything passes")
    for reason in (None, "", "   "):
        with pytest.raises(ReasonRequiredError, match="needs a reason"):
            g.set_threshold_override(eng, product.id, 1000.0, reason=reason)
    with pytest.raises(ValidationError, match="finite"):
        g.set_threshold_override(eng, product.id, float("nan"), reason="x")
    assert g.database.products.get(product.id).threshold_override is None and g.audit.count() == before
    info = g.set_threshold_override(eng, product.id, 0.6, reason="  new   lighting ")
    assert (info.threshold_override, info.threshold_override_by, info.threshold_in_use) == (0.6, "eve", 0.6)
    event = last(g)
    assert (event.action, event.actor, event.target, event.reason) == (
        "threshold_override",
        "eve",
        "product:widget",
        "new lighting",
    )
    assert event.before == {"threshold_override": None, "by": None, "calibrated_threshold": 0.5}
    assert {k: event.after[k] for k in ("threshold_override", "by")} == {"threshold_override": 0.6, "by": "eve"}
    assert event.after["move"]["failures_checked"] == 0  # measured against the recent failures: none yet
    with pytest.raises(ReasonRequiredError):
        g.set_threshold_override(eng, product.id, None, reason=None)
    assert g.set_threshold_override(eng, product.id, None, reason="back to automatic").threshold_in_use == 0.5
    assert g.audit.verify() is None


def test_a_relabel_adds_a_review_and_never_edits_the_verdict(g: GuardedDatabase, people, product, make_frame) -> None:
    _, eng, op = people
    insp = g.record_inspection(op, product_id=product.id, result=FAIL, image=make_frame(2))
    assert insp.operator == "anna"
    first = g.confirm_defect(eng, insp.id)  # agrees with the FAIL: a review, no reason needed
    assert (first.label, first.supersedes_id, first.reason) == ("confirmed_defect", None, None)
    assert last(g).action == "review"
    with pytest.raises(ReasonRequiredError, match="relabelling inspection"):
        g.mark_false_alarm(eng, insp.id, reason=None)
    second = g.mark_false_alarm(eng, insp.id, reason="the mark is on the fixture")
    assert (second.label, second.supersedes_id) == ("false_alarm", first.id)
    event = last(g)
    assert (event.action, event.target, event.reason) == (
        "relabel",
        f"inspection:{insp.id}",
        "the mark is on the fixture",
    )
    assert event.before == {"verdict": "FAIL", "label": "confirmed_defect", "review_id": first.id}
    record = g.database.inspections.get(insp.id)
    assert record.verdict == "FAIL" and record.review_status == "false_alarm" and record.reviewed_by == "eve"
    assert [r.id for r in g.reviews.for_inspection(insp.id)] == [first.id, second.id]  # both rows kept
    assert g.reviews.in_force(insp.id).id == second.id
    with pytest.raises(ReasonRequiredError):
        g.confirm_defect(eng, insp.id)  # back to defect: a relabel again
    # a missed defect on a PASS is a relabel too
    passed = g.record_inspection(op, product_id=product.id, result=PASS, image=make_frame(3))
    with pytest.raises(ValidationError, match="cannot be a false alarm"):
        g.mark_false_alarm(eng, passed.id, reason="x")
    with pytest.raises(ReasonRequiredError):
        g.confirm_defect(eng, passed.id)
    assert g.confirm_defect(eng, passed.id, reason="crack seen at rework").label == "confirmed_defect"
    assert g.database.inspections.get(passed.id).verdict == "PASS"
    with pytest.raises(PermissionDenied):
        g.confirm_defect(op, insp.id, reason="operators do not review")
    assert g.audit.verify() is None


def test_false_alarm_as_reference_needs_reference_rights_and_is_audited(
    g: GuardedDatabase, people, product, make_frame
) -> None:
    _admin, eng, op = people
    insp = g.record_inspection(op, product_id=product.id, result=FAIL, image=make_frame(4))
    with pytest.raises(ValidationError, match="Only a false alarm"):
        g.review(eng, insp.id, "confirmed_defect", add_as_reference=True)
    review = g.mark_false_alarm(eng, insp.id, reason="good part, odd light", add_as_reference=True)
    assert review.added_reference
    assert g.database.products.get(product.id).reference_count == 2
    events = g.audit.list(limit=2)
    assert [e.action for e in events] == ["reference_added", "relabel"]
    assert events[0].after["source"] == "false_alarm" and events[0].reason == "good part, odd light"


def test_operators_mark_for_review_and_engineers_clear_it(g: GuardedDatabase, people, product, make_frame) -> None:
    _, eng, op = people
    line = g.users.add(people[0], "plc", "line", "line-password")
    insp = g.record_inspection(line, product_id=product.id, result=PASS, image=make_frame(5))
    with pytest.raises(PermissionDenied):
        g.mark_for_review(line, insp.id)
    request = g.mark_for_review(op, insp.id, note="looks scratched")
    assert (request.label, request.reason) == ("needs_review", "looks scratched")
    assert g.reviews.pending() == [insp.id]
    assert g.reviews.in_force(insp.id) is None  # a request labels nothing
    assert g.database.inspections.get(insp.id).review_status == "none"
    other = g.record_inspection(line, product_id=product.id, result=PASS, image=make_frame(6))
    requested = HistoryFilter(review_requested=True)
    assert [r.id for r in g.database.history.query(requested).records] == [insp.id]  # the History's filter
    assert g.reviews.open_request(insp.id).by == "anna" and g.reviews.open_request(other.id) is None
    g.confirm_defect(eng, insp.id, reason="scratch confirmed")
    assert g.reviews.pending() == [] and g.reviews.open_request(insp.id) is None
    assert g.database.history.query(requested).records == ()
    assert [e.action for e in g.audit.list(limit=2)] == ["relabel", "marked_for_review"]
    g.mark_for_review(op, insp.id, note="still scratched?")  # asked again after the label: open again
    assert g.reviews.pending() == [insp.id] and g.reviews.open_request(insp.id).reason == "still scratched?"
    assert g.database.history.query(requested).total == 1


def test_export_is_audited_and_refused_for_operators(
    g: GuardedDatabase, people, product, make_frame, tmp_path: Path
) -> None:
    _, eng, op = people
    g.record_inspection(op, product_id=product.id, result=FAIL, image=make_frame(6))
    out = tmp_path / "out" / "fails.csv"
    with pytest.raises(PermissionDenied):
        g.export_history_csv(op, HistoryFilter(verdict="FAIL"), out)
    assert not out.exists()
    assert g.export_history_csv(eng, HistoryFilter(verdict="FAIL"), out) == 1
    event = last(g)
    assert (event.action, event.actor, event.target) == ("export", "eve", "file:fails.csv")
    assert event.after["rows"] == 1 and event.after["filter"]["verdict"] == "FAIL"


def test_product_changes_are_checked_and_audited(g: GuardedDatabase, people, make_frame) -> None:
    _admin, eng, op = people
    with pytest.raises(PermissionDenied):
        g.create_product(op, "gear")
    p = g.create_product(
        eng, "gear", references=[make_frame(7), make_frame(8)], calibration={"id": "a", "threshold": 1.0}
    )
    assert p.reference_count == 2 and p.calibrated_threshold == 1.0
    assert [e.action for e in g.audit.list(limit=4, newest_first=False, target="product:")] == [
        "product_created",
        "reference_added",
        "reference_added",
        "product_recalibrated",
    ]
    n = g.audit.count()
    with pytest.raises(DuplicateError):
        g.create_product(eng, "GEAR", references=[make_frame(9)])
    assert g.audit.count() == n and len(g.database.products.list()) == 1  # nothing half-made

    g.save_calibration(eng, p.id, {"id": "a", "threshold": 1.0})  # the same calibration: nothing recorded
    assert g.audit.count() == n
    with pytest.raises(PermissionDenied):
        g.save_calibration(op, p.id, {"id": "b", "threshold": 2.0})
    g.save_calibration(op, p.id, {"id": "b", "threshold": 1.1}, automatic=True)  # the station rebuilt it itself
    event = last(g)
    assert event.action == "product_recalibrated" and event.actor == "anna" and event.reason.startswith("automatic")
    assert event.before == {"id": "a", "threshold": 1.0} and event.after == {"id": "b", "threshold": 1.1}

    refs = g.database.references.list(p.id)
    g.set_reference_active(eng, refs[0].id, False)
    g.remove_reference(eng, refs[1].id)
    assert [e.action for e in g.audit.list(limit=2)] == ["reference_removed", "reference_deactivated"]
    g.replace_references(eng, p.id, [make_frame(10)])
    assert [e.action for e in g.audit.list(limit=2)] == ["reference_added", "reference_removed"]
    g.rename_product(eng, p.id, "gear-2")
    g.update_product_settings(eng, p.id, {"decoder": {"resolution": 256}})
    assert [e.action for e in g.audit.list(limit=2)] == ["product_settings_changed", "product_renamed"]

    g.record_inspection(op, product_id=p.id, result=PASS, image=make_frame(11))
    with pytest.raises(ProductInUseError):
        g.delete_product(eng, p.id)
    with pytest.raises(ReasonRequiredError):
        g.delete_product(eng, p.id, delete_history=True)
    g.delete_product(eng, p.id, delete_history=True, reason="line retired")
    event = last(g)
    assert (event.action, event.reason, event.before["inspections"]) == ("product_deleted", "line retired", 1)
    assert g.database.products.list() == [] and g.audit.verify() is None


def test_station_settings_are_for_admins(g: GuardedDatabase, people) -> None:
    admin, eng, _ = people
    assert g.get_station_setting(IDLE_LOGOUT_SETTING, 600) == 600
    with pytest.raises(PermissionDenied):
        g.set_station_setting(eng, IDLE_LOGOUT_SETTING, 60)
    with pytest.raises(ValidationError):
        g.set_station_setting(admin, IDLE_LOGOUT_SETTING, -5)
    g.set_station_setting(admin, IDLE_LOGOUT_SETTING, 120)
    g.set_station_setting(admin, IDLE_LOGOUT_SETTING, 90)
    assert g.get_station_setting(IDLE_LOGOUT_SETTING) == 90
    event = last(g)
    assert (event.action, event.before, event.after) == ("setting_changed", {"value": 120}, {"value": 90})


# ------------------------------------------------------------------ CSV formula injection
@pytest.mark.parametrize("value", NASTY)
def test_no_line_of_a_cell_can_start_a_formula(value: str) -> None:
    cell = csv_text(value)
    assert "\r" not in cell
    for line in cell.split("\n"):
        assert not line.lstrip(" ").startswith(FORMULA_STARTS), (value, cell)
    assert cell.replace("'", "").replace("\n", "") == value.replace("\r", "").replace("\n", "").replace("\u2028", "")


def test_exported_csv_keeps_one_row_per_inspection_and_no_formulas(
    g: GuardedDatabase, people, product, make_frame, tmp_path: Path
) -> None:
    _, eng, _op = people
    ids = []
    for i, value in enumerate(NASTY):
        rec = g.database.inspections.record(
            product_id=product.id,
            result=FAIL,
            image=make_frame(100 + i),
            station=value,
            operator=value,
            source_name=value,
        )
        g.review(eng, rec.id, "false_alarm", reason=f"x{value}")
        g.database.inspections.confirm_defect(rec.id, by=value, note=value)  # the old path writes the note raw
        ids.append(rec.id)
    out = tmp_path / "history.csv"
    assert g.export_history_csv(eng, HistoryFilter(newest_first=False), out) == len(NASTY)
    raw = out.read_bytes().decode("utf-8")
    assert "\r" not in raw and "\u2028" not in raw
    for physical_line in raw.split("\n"):
        assert not physical_line.lstrip('"').lstrip(" ").startswith(FORMULA_STARTS), physical_line
    rows = read_csv(out)
    assert [int(r["id"]) for r in rows] == ids  # every row is whole: no value split one
    with open(out, encoding="utf-8", newline="") as fh:
        assert len(list(csv.reader(fh))) == len(NASTY) + 1
    for row in rows:
        for column in ("station", "operator", "source_name", "reviewed_by", "review_note"):
            cell = row[column]
            assert all(not line.lstrip(" ").startswith(FORMULA_STARTS) for line in cell.split("\n")), (column, cell)
