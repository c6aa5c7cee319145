"""Products and references: create, add from the current frame or files, see thumbnails, replace, remove; reads and
writes run off the GUI thread, and a locked database gets a message and a Retry that keeps the input."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import cv2
import pytest
from PySide6.QtCore import QTimer

from db.engine import DB_FILENAME
from desktop.dialogs.products_dialog import ProductsDialog
from desktop.workers.inference_worker import NO_REFERENCES_MESSAGE
from tests.station_fakes import bad_part, good_part


@pytest.fixture
def dialog_for(qtbot, database):
    def make(frame=None, files=None):
        picked = list(files or [])
        dialog = ProductsDialog(database.products, database.references, lambda: frame, pick_files=lambda: list(picked))
        qtbot.addWidget(dialog)
        dialog.show()
        settle(qtbot, dialog)
        return dialog

    return make


def settle(qtbot, dialog) -> None:
    """Wait until the dialog shows what its reads found."""
    qtbot.waitUntil(lambda: not dialog.reading, timeout=5000)


def _write(path: Path, image) -> str:
    cv2.imwrite(str(path), image)
    return str(path)


def test_create_product_then_add_the_current_frame(qtbot, dialog_for, database):
    dialog = dialog_for(frame=good_part(3))
    dialog.name_edit.setText("  valve   body ")
    with qtbot.waitSignal(dialog.product_created) as created:
        dialog.create_button.click()
    settle(qtbot, dialog)
    product = database.products.get(created.args[0])
    assert product.name == "valve body"
    assert dialog.current_product_id() == product.id
    assert NO_REFERENCES_MESSAGE in dialog.hint.text()
    with qtbot.waitSignal(dialog.references_changed) as changed:
        dialog.add_frame_button.click()
    assert changed.args[0] == product.id
    settle(qtbot, dialog)
    refs = database.references.list(product.id)
    assert len(refs) == 1 and refs[0].source == "camera" and (refs[0].width, refs[0].height) == (96, 96)
    assert dialog.gallery.count() == 1 and "1 reference image." == dialog.hint.text()


def test_duplicate_name_is_refused_with_a_message(qtbot, dialog_for, database):
    database.products.create("gear")
    dialog = dialog_for()
    dialog.name_edit.setText("Gear")
    with qtbot.waitSignal(dialog.write_finished) as finished:
        dialog.create_button.click()
    assert finished.args == [False] and "already exists" in dialog.message.text()
    assert not dialog.retry_button.isVisible()  # the name must change, retrying it cannot help
    assert len(database.products.list()) == 1


def test_no_frame_yet_is_explained(qtbot, dialog_for, database):
    database.products.create("gear")
    dialog = dialog_for(frame=None)
    dialog.add_frame_button.click()
    assert "no camera frame yet" in dialog.message.text().lower()


def test_files_are_added_and_a_corrupt_one_is_named(qtbot, dialog_for, database, tmp_path: Path):
    product = database.products.create("gear")
    good = _write(tmp_path / "good_a.png", good_part(1))
    corrupt = tmp_path / "scan_0042.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n cut off")
    dialog = dialog_for(files=[good, str(corrupt)])
    with qtbot.waitSignal(dialog.references_changed):
        dialog.add_files_button.click()
    assert "scan_0042.png" in dialog.message.text()
    refs = database.references.list(product.id)
    assert [r.original_name for r in refs] == ["good_a.png"]


def test_replace_and_remove_references(qtbot, dialog_for, database, tmp_path: Path):
    product = database.products.create("gear")
    database.references.add(
        product.id, [_write(tmp_path / "old.png", good_part(1)), _write(tmp_path / "keep.png", good_part(2))]
    )
    new = _write(tmp_path / "new.png", good_part(5))
    dialog = dialog_for(files=[new])
    assert dialog.gallery.count() == 2
    dialog.gallery.setCurrentRow(0)
    with qtbot.waitSignal(dialog.references_changed):
        dialog.replace_button.click()
    settle(qtbot, dialog)
    assert sorted(r.original_name for r in database.references.list(product.id)) == ["keep.png", "new.png"]
    dialog.gallery.setCurrentRow(0)
    with qtbot.waitSignal(dialog.references_changed):
        dialog.remove_button.click()
    settle(qtbot, dialog)
    assert len(database.references.list(product.id)) == 1
    assert dialog.gallery.count() == 1


def test_a_bad_replacement_keeps_the_old_reference(qtbot, dialog_for, database, tmp_path: Path):
    product = database.products.create("gear")
    database.references.add(product.id, [_write(tmp_path / "old.png", good_part(1))])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff nothing")
    dialog = dialog_for(files=[str(bad)])
    dialog.gallery.setCurrentRow(0)
    with qtbot.waitSignal(dialog.write_finished):
        dialog.replace_button.click()
    assert "broken.jpg" in dialog.message.text()
    assert [r.original_name for r in database.references.list(product.id)] == ["old.png"]


def test_build_progress_and_failure_show_in_the_dialog(qtbot, dialog_for, database):
    product = database.products.create("gear")
    dialog = dialog_for()
    dialog.show_build_progress(product.id, 0.5, "normal variation 3/12")
    assert dialog.progress.value() == 50 and "normal variation" in dialog.progress.format()
    dialog.show_build_progress(product.id + 99, 0.9, "other product")
    assert dialog.progress.value() == 50
    dialog.show_build_outcome(product.id, False, f"{NO_REFERENCES_MESSAGE} to product 'gear'.")
    assert NO_REFERENCES_MESSAGE in dialog.message.text()
    dialog.on_product_ready(product.id, "gear: only 12% of the defects the station simulated ... stand out")
    assert dialog.progress.format() == "Model ready, with a warning" and "only 12%" in dialog.message.text()
    dialog.on_product_ready(product.id, None)  # rebuilt with consistent references: the warning goes
    assert dialog.progress.format() == "Model ready" and dialog.message.text() == ""


def test_unreadable_stored_reference_is_flagged_in_the_gallery(qtbot, dialog_for, database, tmp_path: Path):
    product = database.products.create("gear")
    ref = database.references.add(product.id, [_write(tmp_path / "part_9.png", bad_part(1))])[0]
    Path(ref.image_file).write_bytes(b"garbage")
    dialog = dialog_for()
    assert dialog.gallery.unreadable == ["part_9.png"]
    assert "part_9.png" in dialog.hint.text()


class OtherProgram:
    """Another program on the station's database: ``lock()`` takes its write lock (the busy timeout of the
    ``database`` fixture is 0.3 s), ``release()`` lets it go."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=0.1)

    def lock(self) -> None:
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self.conn.in_transaction:
            self.conn.rollback()


@pytest.fixture
def other_program(database, tmp_path: Path):
    other = OtherProgram(tmp_path / "data" / DB_FILENAME)
    yield other
    other.release()
    other.conn.close()


def _ticking(dialog) -> list[bool]:
    """A 10 ms GUI timer noting whether a write was running each time it fired."""
    ticks: list[bool] = []
    timer = QTimer(dialog)
    timer.timeout.connect(lambda: ticks.append(dialog.saving.isVisible()))
    timer.start(10)
    return ticks


def test_a_locked_database_does_not_freeze_the_dialog_and_retry_keeps_the_name(
    qtbot, dialog_for, database, other_program
):
    dialog = dialog_for()
    ticks = _ticking(dialog)
    other_program.lock()
    dialog.name_edit.setText("valve body")
    with qtbot.waitSignal(dialog.write_finished, timeout=5000) as finished:
        dialog.create_button.click()
        assert dialog.saving.isVisible() and not dialog.create_button.isEnabled() and not dialog.name_edit.isEnabled()
    assert finished.args == [False]
    assert ticks.count(True) >= 3  # the GUI thread kept running its timers while the write waited for the lock
    assert "another program holds the database" in dialog.message.text() and "Retry" in dialog.message.text()
    assert dialog.retry_button.isVisible() and dialog.retry_button.isEnabled()
    assert dialog.name_edit.text() == "valve body" and dialog.name_edit.isEnabled() and not dialog.saving.isVisible()
    other_program.release()  # the other program is closed
    with qtbot.waitSignal(dialog.product_created, timeout=5000) as created:
        dialog.retry_button.click()
    assert database.products.get(created.args[0]).name == "valve body"
    assert dialog.name_edit.text() == "" and not dialog.retry_button.isVisible()


def test_retry_after_a_locked_database_adds_the_same_files_without_asking_again(
    qtbot, dialog_for, database, other_program, tmp_path: Path
):
    product = database.products.create("gear")
    files = [_write(tmp_path / "good_a.png", good_part(1)), _write(tmp_path / "good_b.png", good_part(2))]
    asked: list[int] = []
    dialog = dialog_for()
    dialog._pick_files = lambda: (asked.append(1), list(files))[1]
    other_program.lock()
    with qtbot.waitSignal(dialog.write_finished, timeout=5000) as finished:
        dialog.add_files_button.click()
        assert not dialog.add_files_button.isEnabled() and not dialog.product_list.isEnabled()
    assert finished.args == [False] and "another program holds the database" in dialog.message.text()
    assert dialog.add_files_button.isEnabled()
    other_program.release()
    with qtbot.waitSignal(dialog.references_changed, timeout=5000):
        dialog.retry_button.click()
    settle(qtbot, dialog)
    assert len(asked) == 1
    assert sorted(r.original_name for r in database.references.list(product.id)) == ["good_a.png", "good_b.png"]
    assert dialog.gallery.count() == 2 and "2 reference images added" in dialog.message.text()


class SlowReads:
    """A repository whose reads take ``delay`` seconds (a slow network share, a long list)."""

    def __init__(self, repo, delay: float) -> None:
        self._repo, self.delay = repo, delay

    def list(self, *args):
        time.sleep(self.delay)
        return self._repo.list(*args)

    def __getattr__(self, name):
        return getattr(self._repo, name)


def test_slow_reads_do_not_freeze_the_dialog(qtbot, database, tmp_path: Path):
    product = database.products.create("gear")
    database.references.add(product.id, [_write(tmp_path / "a.png", good_part(1))])
    dialog = ProductsDialog(SlowReads(database.products, 0.4), SlowReads(database.references, 0.4), lambda: None)
    qtbot.addWidget(dialog)
    dialog.show()
    ticks: list[bool] = []
    timer = QTimer(dialog)
    timer.timeout.connect(lambda: ticks.append(dialog.reading))
    timer.start(10)
    assert dialog.reading and dialog.product_list.count() == 0  # the constructor returned before the list was read
    settle(qtbot, dialog)
    assert ticks.count(True) >= 10  # the GUI thread kept running its timers while the reads took 0.8 s
    assert dialog.current_product_id() == product.id and dialog.gallery.count() == 1
    assert dialog.hint.text() == "1 reference image."


def test_an_answer_for_a_product_no_longer_selected_is_dropped(qtbot, database, tmp_path: Path):
    gear = database.products.create("gear")
    valve = database.products.create("valve")
    gear_files = [_write(tmp_path / "g1.png", good_part(1)), _write(tmp_path / "g2.png", good_part(2))]
    database.references.add(gear.id, gear_files)
    database.references.add(valve.id, [_write(tmp_path / "v1.png", good_part(3))])
    references = SlowReads(database.references, 0.0)
    dialog = ProductsDialog(database.products, references, lambda: None)
    qtbot.addWidget(dialog)
    dialog.select_product(valve.id)
    settle(qtbot, dialog)
    references.delay = 0.3
    dialog.select_product(gear.id)
    dialog.select_product(valve.id)  # picked before gear's references came back
    settle(qtbot, dialog)
    assert dialog.current_product_id() == valve.id
    assert dialog.gallery.count() == 1 and dialog.hint.text() == "1 reference image."


def test_opening_reads_the_references_once(qtbot, database, tmp_path: Path):
    database.products.create("gear")  # listed first: the dialog would open on it without ``select``
    valve = database.products.create("valve")
    database.references.add(valve.id, [_write(tmp_path / "v1.png", good_part(3))])
    calls: list[int] = []
    references = SlowReads(database.references, 0.0)
    real_list = references.list
    references.list = lambda pid: (calls.append(pid), real_list(pid))[1]
    dialog = ProductsDialog(database.products, references, lambda: None, select=valve.id)
    qtbot.addWidget(dialog)
    settle(qtbot, dialog)
    assert dialog.current_product_id() == valve.id and dialog.gallery.count() == 1
    assert calls == [valve.id]  # one read, of the product asked for
