"""Products and references: create, add from the current frame or files, see thumbnails, replace, remove."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from desktop.inference_worker import NO_REFERENCES_MESSAGE
from desktop.products_dialog import ProductsDialog
from station_fakes import bad_part, good_part


@pytest.fixture
def dialog_for(qtbot, database):
    def make(frame=None, files=None):
        picked = list(files or [])
        dialog = ProductsDialog(database.products, database.references, lambda: frame, pick_files=lambda: list(picked))
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return make


def _write(path: Path, image) -> str:
    cv2.imwrite(str(path), image)
    return str(path)


def test_create_product_then_add_the_current_frame(qtbot, dialog_for, database):
    dialog = dialog_for(frame=good_part(3))
    dialog.name_edit.setText("  valve   body ")
    with qtbot.waitSignal(dialog.product_created) as created:
        dialog.create_button.click()
    product = database.products.get(created.args[0])
    assert product.name == "valve body"
    assert dialog.current_product_id() == product.id
    assert NO_REFERENCES_MESSAGE in dialog.hint.text()
    with qtbot.waitSignal(dialog.references_changed) as changed:
        dialog.add_frame_button.click()
    assert changed.args[0] == product.id
    refs = database.references.list(product.id)
    assert len(refs) == 1 and refs[0].source == "camera" and (refs[0].width, refs[0].height) == (96, 96)
    assert dialog.gallery.count() == 1 and "1 reference image." == dialog.hint.text()


def test_duplicate_name_is_refused_with_a_message(qtbot, dialog_for, database):
    database.products.create("gear")
    dialog = dialog_for()
    dialog.name_edit.setText("Gear")
    dialog.create_button.click()
    assert "already exists" in dialog.message.text()
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
    database.references.add(product.id, [_write(tmp_path / "old.png", good_part(1)), _write(tmp_path / "keep.png", good_part(2))])
    new = _write(tmp_path / "new.png", good_part(5))
    dialog = dialog_for(files=[new])
    assert dialog.gallery.count() == 2
    dialog.gallery.setCurrentRow(0)
    with qtbot.waitSignal(dialog.references_changed):
        dialog.replace_button.click()
    assert sorted(r.original_name for r in database.references.list(product.id)) == ["keep.png", "new.png"]
    dialog.gallery.setCurrentRow(0)
    with qtbot.waitSignal(dialog.references_changed):
        dialog.remove_button.click()
    assert len(database.references.list(product.id)) == 1
    assert dialog.gallery.count() == 1


def test_a_bad_replacement_keeps_the_old_reference(qtbot, dialog_for, database, tmp_path: Path):
    product = database.products.create("gear")
    database.references.add(product.id, [_write(tmp_path / "old.png", good_part(1))])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff nothing")
    dialog = dialog_for(files=[str(bad)])
    dialog.gallery.setCurrentRow(0)
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


def test_unreadable_stored_reference_is_flagged_in_the_gallery(qtbot, dialog_for, database, tmp_path: Path):
    product = database.products.create("gear")
    ref = database.references.add(product.id, [_write(tmp_path / "part_9.png", bad_part(1))])[0]
    Path(ref.image_file).write_bytes(b"garbage")
    dialog = dialog_for()
    assert dialog.gallery.unreadable == ["part_9.png"]
    assert "part_9.png" in dialog.hint.text()
