"""The QA history tab on a real temporary station database: filters, details, reviews, CSV export, failures."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
import shutil
import sqlite3
import subprocess
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from core.heatmap import colorize
from core.result import FAIL, PASS, InspectionResult, Region
from db.engine import DB_FILENAME
from db.history import read_csv
from db.repository import Database
from desktop.views.history.filters import REVIEWED_NO, REVIEWED_YES
from desktop.views.history.history_table_model import COL_IMAGE, COL_REVIEW, COL_VERDICT
from desktop.views.history.history_view import HistoryView
from desktop.views.history.inspection_image_view import MODE_HEATMAP
from line.problems import Severity

DAY1 = date(2024, 3, 4)
DAY2 = date(2024, 3, 5)
OPERATOR = "qa-anna"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware datetime at the station's local wall-clock time (the filter bar works in local days)."""
    return datetime.combine(day, time(hour, minute)).astimezone()


def make_result(verdict: str, score: float, locations: tuple[str, ...] = ()) -> InspectionResult:
    regions = [
        Region(bbox=(4 + 8 * i, 4, 12 + 8 * i, 12), area_pct=2.0 + i, location=loc, peak=score)
        for i, loc in enumerate(locations)
    ]
    return InspectionResult(
        verdict=verdict,
        probability=0.93 if verdict == FAIL else 0.04,
        score=score,
        threshold=1.0,
        anomaly_map=np.zeros((24, 32), np.float32),
        regions=regions,
        timings_ms={"total": 12.0},
        encoder_id="efficientnet-lite0",
        calibration_id="cal-1",
    )


@dataclass
class Fixture:
    db: Database
    a: int  # product ids
    b: int
    ids: dict[str, list[int]] = field(default_factory=dict)  # label -> inspection ids
    meta: dict[int, tuple[int, str, date, str]] = field(default_factory=dict)  # id -> product, verdict, day, review
    chat_id: int = 0  # the FAIL with regions and a conversation

    def expected(self, product=None, verdict=None, day=None, reviewed=None) -> set[int]:
        out = set()
        for iid, (prod, verd, d, review) in self.meta.items():
            if product is not None and prod != product:
                continue
            if verdict is not None and verd != verdict:
                continue
            if day is not None and d != day:
                continue
            if reviewed is not None and (review != "none") != reviewed:
                continue
            out.add(iid)
        return out


def build_fixture(db: Database) -> Fixture:
    """widget-a: day 1 4 PASS + 2 FAIL, day 2 3 PASS + 3 FAIL (one confirmed, one false alarm);
    bracket-b: day 1 2 PASS + 1 FAIL. 15 inspections."""
    a = db.products.create("widget-a").id
    b = db.products.create("bracket-b").id
    fx = Fixture(db, a, b)
    rng = np.random.default_rng(7)
    plan = [
        (a, DAY1, 8, PASS, 0.40, ()),
        (a, DAY1, 9, PASS, 0.45, ()),
        (a, DAY1, 10, PASS, 0.50, ()),
        (a, DAY1, 11, PASS, 0.55, ()),
        (a, DAY1, 12, FAIL, 1.40, ("top left",)),
        (a, DAY1, 13, FAIL, 1.50, ("bottom right",)),
        (a, DAY2, 8, PASS, 0.42, ()),
        (a, DAY2, 9, PASS, 0.47, ()),
        (a, DAY2, 10, PASS, 0.52, ()),
        (a, DAY2, 11, FAIL, 1.30, ("center",)),
        (a, DAY2, 12, FAIL, 1.20, ("top right",)),
        (a, DAY2, 13, FAIL, 1.70, ("top left", "center")),
        (b, DAY1, 8, PASS, 0.30, ()),
        (b, DAY1, 9, PASS, 0.35, ()),
        (b, DAY1, 10, FAIL, 1.10, ("bottom left",)),
    ]
    for product, day, hour, verdict, score, locations in plan:
        frame = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
        anomaly_map = np.full((24, 32), score / 2, np.float32)
        anomaly_map[4:12, 4:12] = score
        heat = colorize(anomaly_map, 1.0)  # the heatmap exactly as the station stores it
        rec = db.inspections.record(
            product_id=product,
            result=make_result(verdict, score, locations),
            image=frame,
            heatmap=heat,
            time=local(day, hour, 30 if product == b else 0),
            station="line-1",
            source="camera",
        )
        fx.meta[rec.id] = (product, verdict, day, "none")
        fx.ids.setdefault(f"{product}-{day}-{verdict}", []).append(rec.id)
    confirmed, false_alarm, chat = fx.ids[f"{a}-{DAY2}-{FAIL}"]
    db.inspections.confirm_defect(confirmed, by="shift-lead")
    db.inspections.mark_false_alarm(false_alarm, by="shift-lead")
    fx.meta[confirmed] = (a, FAIL, DAY2, "confirmed_defect")
    fx.meta[false_alarm] = (a, FAIL, DAY2, "false_alarm")
    db.chat.append("user", "Why did this part fail?", inspection_id=chat)
    db.chat.append("assistant", "Two regions exceed the threshold: top left and center.", inspection_id=chat)
    fx.chat_id = chat
    return fx


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, Fixture]:
    """The fixture database is built once per module; every test works on its own copy of the folder."""
    folder = tmp_path_factory.mktemp("history") / "data"
    db = Database.open(folder)
    try:
        fx = build_fixture(db)
    finally:
        db.close()
    return folder, fx


@pytest.fixture
def fixture(template: tuple[Path, Fixture], tmp_path: Path) -> Iterator[Fixture]:
    source, fx = template
    shutil.copytree(source, tmp_path / "data")
    db = Database.open(tmp_path / "data", busy_timeout_ms=150)
    try:
        yield dataclasses.replace(fx, db=db, ids={k: list(v) for k, v in fx.ids.items()}, meta=dict(fx.meta))
    finally:
        db.close()


@pytest.fixture
def view(qtbot, fixture: Fixture) -> Iterator[HistoryView]:
    v = HistoryView(fixture.db, fixture.db.store, operator=OPERATOR)
    qtbot.addWidget(v)
    v.resize(1300, 800)
    v.show()
    qtbot.waitUntil(lambda: v.filter_bar.product_combo.count() == 3 and not v.model.is_loading, timeout=5000)
    yield v
    v.shutdown()


def apply(qtbot, view: HistoryView, **kwargs) -> set[int]:
    view.filter_bar.set_filters(**kwargs)
    qtbot.waitUntil(lambda: not view.model.is_loading, timeout=5000)
    return {r.id for r in view.model.loaded_records()}


@contextmanager
def locked_database(db: Database) -> Iterator[None]:
    """Another program holds an exclusive lock on the station database (readers and writers get 'locked')."""
    other = sqlite3.connect(Path(db.store.root).parent / DB_FILENAME, isolation_level=None, timeout=0.1)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    deadline = _time.monotonic() + 5
    while True:
        db.engine.dispose()  # let go of pooled connections so the other program can take the lock
        try:
            other.execute("BEGIN EXCLUSIVE")
            break
        except sqlite3.OperationalError:  # a background read of the view still holds its connection
            if _time.monotonic() > deadline:
                raise
            _time.sleep(0.05)
    other.execute("UPDATE products SET name = name")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


# ---------------------------------------------------------------------------------------------- filters


def test_filters_narrow_the_rows_to_exact_counts(qtbot, view: HistoryView, fixture: Fixture) -> None:
    a, b = fixture.a, fixture.b
    assert view.model.rowCount() == 15
    assert {r.id for r in view.model.loaded_records()} == fixture.expected()
    cases = [
        (dict(product_id=a), dict(product=a), 12),
        (dict(product_id=b), dict(product=b), 3),
        (dict(verdict=FAIL), dict(verdict=FAIL), 6),
        (dict(product_id=a, verdict=FAIL), dict(product=a, verdict=FAIL), 5),
        (dict(product_id=a, verdict=PASS), dict(product=a, verdict=PASS), 7),
        (dict(first_day=DAY1, last_day=DAY1), dict(day=DAY1), 9),
        (dict(product_id=a, verdict=FAIL, first_day=DAY2, last_day=DAY2), dict(product=a, verdict=FAIL, day=DAY2), 3),
        (dict(reviewed=REVIEWED_YES), dict(reviewed=True), 2),
        (dict(reviewed=REVIEWED_NO), dict(reviewed=False), 13),
        (dict(product_id=a, verdict=FAIL, reviewed=REVIEWED_NO), dict(product=a, verdict=FAIL, reviewed=False), 3),
        (dict(product_id=b, reviewed=REVIEWED_YES), dict(product=b, reviewed=True), 0),
        (dict(first_day=DAY1, last_day=DAY2), dict(), 15),
        (dict(first_day=DAY2 + timedelta(days=1), last_day=DAY2 + timedelta(days=3)), dict(product=-1), 0),
    ]
    for filters, expected_args, count in cases:
        shown = apply(qtbot, view, **filters)
        expected = fixture.expected(**expected_args)
        assert len(expected) == count, filters  # the fixture itself is what the test claims
        assert view.model.rowCount() == count, filters
        assert shown == expected, filters
    apply(qtbot, view, product_id=a, verdict=FAIL)
    assert view.count_label.text().startswith("5 inspections")
    apply(qtbot, view, product_id=b, reviewed=REVIEWED_YES)
    assert "No inspections match" in view.count_label.text()


def test_rows_are_newest_first_with_verdict_and_review_columns(qtbot, view: HistoryView, fixture: Fixture) -> None:
    records = view.model.loaded_records()
    assert [(r.time, r.id) for r in records] == sorted(((r.time, r.id) for r in records), reverse=True)
    row = view.model.row_of(fixture.ids[f"{fixture.a}-{DAY2}-{FAIL}"][0])
    assert view.model.index(row, COL_VERDICT).data() == FAIL
    assert view.model.index(row, COL_REVIEW).data() == "Confirmed defect"


def test_thumbnails_load_lazily_and_a_missing_file_says_so(qtbot, view: HistoryView, fixture: Fixture) -> None:
    model = view.model
    first = model.index(0, COL_IMAGE)
    model.data(first, Qt.ItemDataRole.DecorationRole)  # the first request only queues the decode

    def thumb_ready() -> bool:
        image = model.data(first, Qt.ItemDataRole.DecorationRole)
        return isinstance(image, QImage) and not image.isNull()

    qtbot.waitUntil(thumb_ready, timeout=5000)
    image = model.data(first, Qt.ItemDataRole.DecorationRole)
    assert image.width() <= view.thumbnails.size.width() and image.height() <= view.thumbnails.size.height()

    # A frame lost from the data folder: the cell and the detail pane say what happened; nothing crashes.
    lost = fixture.db.inspections.get(fixture.ids[f"{fixture.b}-{DAY1}-{FAIL}"][0])
    lost.image_file.unlink()
    view.thumbnails.forget(str(lost.image_file))  # it may have been decoded while on screen
    row = model.row_of(lost.id)
    index = model.index(row, COL_IMAGE)
    model.data(index, Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: view.thumbnails.failure(str(lost.image_file)) is not None, timeout=5000)
    assert "cannot be shown" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert view.select_inspection(lost.id)
    assert not view.detail.image_view.has_picture()
    assert "missing" in view.detail.image_view.message()


# ---------------------------------------------------------------------------------------------- details


def test_detail_pane_shows_regions_and_transcript_of_the_selected_inspection(
    qtbot, view: HistoryView, fixture: Fixture
) -> None:
    assert view.select_inspection(fixture.chat_id)
    assert view.selected_inspection_id() == fixture.chat_id
    texts = view.detail.region_texts()
    assert len(texts) == 2
    assert texts[0].startswith("1. top left - 2.00 % of the part")
    assert texts[1].startswith("2. center - 3.00 % of the part")
    qtbot.waitUntil(lambda: "Why did this part fail?" in view.detail.transcript_text(), timeout=5000)
    transcript = view.detail.transcript_text()
    assert "Operator" in transcript and "Assistant" in transcript
    assert transcript.index("Why did this part fail?") < transcript.index("Two regions exceed the threshold")
    assert view.detail.image_view.has_picture()
    view.detail.image_view.set_mode(MODE_HEATMAP)
    assert view.detail.image_view.has_picture() and view.detail.image_view.mode == MODE_HEATMAP
    assert f"#{fixture.chat_id}" in view.detail.summary_text() and "FAIL" in view.detail.summary_text()

    # Another inspection: its own (empty) regions and transcript, not the previous ones.
    passed = fixture.ids[f"{fixture.a}-{DAY1}-{PASS}"][0]
    assert view.select_inspection(passed)
    assert view.detail.region_texts() == ["No defect regions."]
    qtbot.waitUntil(lambda: "No questions were asked" in view.detail.transcript_text(), timeout=5000)
    assert not view.detail.review_panel.false_alarm_button.isEnabled()  # a PASS cannot be a false alarm


# ---------------------------------------------------------------------------------------------- reviews


def test_confirm_defect_is_saved_with_reviewer_and_note(qtbot, view: HistoryView, fixture: Fixture) -> None:
    target = fixture.ids[f"{fixture.a}-{DAY1}-{FAIL}"][0]
    assert view.select_inspection(target)
    panel = view.detail.review_panel
    panel.note_edit.setText("scratch on the rim")
    with qtbot.waitSignal(view.reviewSaved, timeout=5000) as blocker:
        qtbot.mouseClick(panel.confirm_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [target]
    saved = fixture.db.inspections.get(target)
    assert (saved.review_status, saved.reviewed_by, saved.review_note) == (
        "confirmed_defect",
        OPERATOR,
        "scratch on the rim",
    )
    assert view.model.index(view.model.row_of(target), COL_REVIEW).data() == "Confirmed defect"
    assert view.banner.level is Severity.SUCCESS
    # The reviewed filter now counts it.
    assert apply(qtbot, view, reviewed=REVIEWED_YES) == fixture.expected(reviewed=True) | {target}


def test_false_alarm_with_add_as_reference_creates_a_reference(qtbot, view: HistoryView, fixture: Fixture) -> None:
    target = fixture.ids[f"{fixture.a}-{DAY1}-{FAIL}"][1]
    assert fixture.db.references.list(fixture.a) == []
    assert view.select_inspection(target)
    panel = view.detail.review_panel
    panel.add_reference_check.setChecked(True)
    with qtbot.waitSignal(view.referenceAdded, timeout=5000) as blocker:
        qtbot.mouseClick(panel.false_alarm_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [fixture.a]
    saved = fixture.db.inspections.get(target)
    assert saved.review_status == "false_alarm" and saved.reviewed_by == OPERATOR
    refs = fixture.db.references.list(fixture.a)
    assert len(refs) == 1 and refs[0].source == "false_alarm" and refs[0].image_sha256 == saved.image_sha256
    assert "normal references" in view.banner.text()


def test_a_guarded_reference_waits_for_the_reviewers_choice(qtbot, view: HistoryView, fixture: Fixture) -> None:
    """With a reference guard (desktop/dialogs/reference_guard.py) nothing is saved until the reviewer has seen the effect;
    choosing "only mark as a false alarm" saves the review without the reference."""
    target = fixture.ids[f"{fixture.a}-{DAY1}-{FAIL}"][1]
    pending: list = []
    view.reference_guard = lambda inspection_id, proceed: pending.append((inspection_id, proceed))
    assert view.select_inspection(target)
    panel = view.detail.review_panel
    panel.add_reference_check.setChecked(True)
    qtbot.mouseClick(panel.false_alarm_button, Qt.MouseButton.LeftButton)
    assert [p[0] for p in pending] == [target] and "Measuring" in view.banner.text()
    qtbot.wait(200)
    assert fixture.db.inspections.get(target).review_status == "none"  # nothing saved yet
    with qtbot.waitSignal(view.reviewSaved, timeout=5000):
        pending[0][1](False)
    assert fixture.db.inspections.get(target).review_status == "false_alarm"
    assert fixture.db.references.list(fixture.a) == []


def test_false_alarm_without_reference_adds_none(qtbot, view: HistoryView, fixture: Fixture) -> None:
    target = fixture.ids[f"{fixture.b}-{DAY1}-{FAIL}"][0]
    assert view.select_inspection(target)
    added: list[int] = []
    view.referenceAdded.connect(added.append)
    with qtbot.waitSignal(view.reviewSaved, timeout=5000):
        qtbot.mouseClick(view.detail.review_panel.false_alarm_button, Qt.MouseButton.LeftButton)
    assert fixture.db.inspections.get(target).review_status == "false_alarm"
    assert fixture.db.references.list(fixture.b) == [] and added == []


# ---------------------------------------------------------------------------------------------- live pushes


def test_a_recorded_inspection_appears_at_the_top_when_it_fits_the_filter(
    qtbot, view: HistoryView, fixture: Fixture
) -> None:
    apply(qtbot, view, product_id=fixture.a)
    assert view.model.rowCount() == 12
    frame = np.full((24, 32, 3), 90, np.uint8)
    new = fixture.db.inspections.record(product_id=fixture.a, result=make_result(FAIL, 1.9, ("center",)), image=frame)
    view.on_inspection_recorded(new.id)
    qtbot.waitUntil(lambda: view.model.rowCount() == 13, timeout=5000)
    assert view.model.record_at(0).id == new.id
    assert view.count_label.text().startswith("13 inspections")  # the footer counts pushed rows too
    other = fixture.db.inspections.record(product_id=fixture.b, result=make_result(PASS, 0.2), image=frame + 1)
    view.on_inspection_recorded(other.id)
    qtbot.wait(400)  # the station's push is answered in the background; give it time to (not) change anything
    assert view.model.rowCount() == 13 and view.model.row_of(other.id) is None


def test_live_rows_held_by_the_view_stay_bounded_over_a_long_run(qtbot, fixture: Fixture) -> None:
    v = HistoryView(fixture.db, fixture.db.store, operator=OPERATOR, page_size=10, cache_rows=40)
    qtbot.addWidget(v)
    v.resize(1300, 800)
    v.show()
    try:
        qtbot.waitUntil(lambda: v.filter_bar.product_combo.count() == 3 and not v.model.is_loading, timeout=5000)
        apply(qtbot, v, product_id=fixture.a)
        pushed = 0
        for i in range(300):  # N >> the bound, as a shift in Auto mode pushes them
            frame = np.full((24, 32, 3), i % 256, np.uint8)
            frame[0, :4] = (i // 256, i % 7, 3)  # distinct files
            rec = fixture.db.inspections.record(product_id=fixture.a, result=make_result(PASS, 0.3), image=frame)
            v.on_inspection_recorded(rec.id)
            pushed += 1
            if i % 25 == 0:
                qtbot.waitUntil(lambda: not v.is_busy(), timeout=5000)
                assert v.model.held_rows <= 40
        qtbot.waitUntil(lambda: not v.is_busy() and v.model.rowCount() == 12 + pushed, timeout=10000)
        assert v.model.held_rows <= 40  # not one record per live row
        assert v.model.record_at(0).id == rec.id  # the newest row is still at the top
    finally:
        v.shutdown()


# ---------------------------------------------------------------------------------------------- CSV export


def test_csv_export_writes_exactly_the_filtered_rows(
    qtbot, view: HistoryView, fixture: Fixture, tmp_path: Path
) -> None:
    apply(qtbot, view, product_id=fixture.a, verdict=FAIL)
    target = tmp_path / "exports" / "fails.csv"
    target.parent.mkdir()
    with qtbot.waitSignal(view.exportFinished, timeout=10000) as blocker:
        view.export_csv_to(target)
    assert blocker.args == [str(target), 5]
    rows = read_csv(target)
    assert {int(r["id"]) for r in rows} == fixture.expected(product=fixture.a, verdict=FAIL)
    assert {r["verdict"] for r in rows} == {FAIL} and {r["product"] for r in rows} == {"widget-a"}
    assert view.banner.level is Severity.SUCCESS and "Exported 5 inspections" in view.banner.text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["fails.csv"]  # no temporary file left
    assert view.suggested_export_name().startswith("history-widget-a-fail-only")


def test_export_button_asks_for_a_file_and_adds_the_csv_suffix(
    qtbot, view: HistoryView, fixture: Fixture, tmp_path: Path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    asked: list[str] = []

    def fake_dialog(parent, caption, start, filters):
        asked.append(start)
        return str(tmp_path / "day-one"), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_dialog))
    apply(qtbot, view, first_day=DAY1, last_day=DAY1)
    with qtbot.waitSignal(view.exportFinished, timeout=10000) as blocker:
        qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(tmp_path / "day-one.csv"), 9]
    assert Path(asked[0]).name == view.suggested_export_name()
    assert {int(r["id"]) for r in read_csv(tmp_path / "day-one.csv")} == fixture.expected(day=DAY1)


@contextmanager
def unwritable_folder(folder: Path) -> Iterator[None]:
    """A folder nobody may write into: permissions, and for root (who ignores them) the immutable flag."""
    folder.chmod(0o555)
    immutable = False
    try:
        if os.access(folder, os.W_OK):
            done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
            immutable = done.returncode == 0
            if not immutable:
                pytest.skip("cannot make a folder unwritable here (root without chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def test_csv_export_to_an_unwritable_folder_gives_a_message_and_writes_nothing(
    qtbot, view: HistoryView, tmp_path: Path
) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    with unwritable_folder(folder):
        view.export_csv_to(folder / "history.csv")
        qtbot.waitUntil(lambda: not view.export_running, timeout=10000)
        assert list(folder.iterdir()) == []
    assert view.banner.level is Severity.ERROR
    text = view.banner.text()
    assert "nothing was written" in text and ("permission" in text.lower() or "read-only" in text.lower())
    assert view.export_button.isEnabled()


def test_csv_export_failing_on_a_locked_database_leaves_the_old_file(
    qtbot, view: HistoryView, fixture: Fixture, tmp_path: Path
) -> None:
    target = tmp_path / "history.csv"
    target.write_text("previous export\n", encoding="utf-8")
    with locked_database(fixture.db):
        view.export_csv_to(target)
        qtbot.waitUntil(lambda: not view.export_running, timeout=10000)
    assert target.read_text(encoding="utf-8") == "previous export\n"
    assert view.banner.level is Severity.ERROR and "busy" in view.banner.text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".history")) == []


# ---------------------------------------------------------------------------------------------- failures


def test_a_locked_database_shows_a_message_and_the_view_recovers(qtbot, view: HistoryView, fixture: Fixture) -> None:
    target = fixture.ids[f"{fixture.a}-{DAY1}-{FAIL}"][0]
    assert view.select_inspection(target)
    qtbot.waitUntil(lambda: "Reading the chat" not in view.detail.transcript_text(), timeout=5000)
    with locked_database(fixture.db):
        view.refresh()
        qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR and not view.is_busy(), timeout=5000)
        assert "locked" in view.banner.text() and view.banner.retry_button.isVisible()
        assert view.model.rowCount() == 15  # what was on screen stays on screen
        assert view.detail.review_panel.confirm_button.isEnabled()
        view.banner.clear()
        qtbot.mouseClick(view.detail.review_panel.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR, timeout=5000)
        assert "was not saved" in view.banner.text() and "busy" in view.banner.text()
        qtbot.waitUntil(lambda: view.detail.review_panel.confirm_button.isEnabled(), timeout=5000)
    assert fixture.db.inspections.get(target).review_status == "none"
    qtbot.mouseClick(view.banner.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.model.is_loading and view.banner.level is None, timeout=5000)
    assert view.model.rowCount() == 15


def test_a_new_filter_on_a_locked_database_shows_no_stale_rows(qtbot, view: HistoryView, fixture: Fixture) -> None:
    with locked_database(fixture.db):
        view.filter_bar.set_filters(product_id=fixture.b)
        qtbot.waitUntil(lambda: view.banner.level is Severity.ERROR, timeout=5000)
        assert view.model.rowCount() == 0 and view.count_label.text() == "The list could not be read."
    qtbot.mouseClick(view.banner.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    assert {r.id for r in view.model.loaded_records()} == fixture.expected(product=fixture.b)
