"""The products dialog over the guarded repositories: an operator's writes are refused with the reason and no
Retry, an engineer's are saved with their audit events."""

from __future__ import annotations

import pytest

from db.guarded import GuardedDatabase
from desktop.controllers.guarded_writes import guarded_repositories
from desktop.dialogs.products_dialog import ProductsDialog
from tests.station_fakes import good_part

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


def test_the_products_dialog_writes_as_the_logged_in_user(qtbot, database) -> None:
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-pass1")
    eve = g.users.add(admin, "eve", "engineer", "engineer-pass1")
    anna = g.users.add(admin, "anna", "operator", "operator-pass1")
    who = {"user": anna}
    products, references = guarded_repositories(g, lambda: who["user"])
    dialog = ProductsDialog(products, references, lambda: good_part(3))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: not dialog.reading, timeout=5000)
    dialog.name_edit.setText("valve")
    with qtbot.waitSignal(dialog.write_finished) as finished:
        dialog.create_button.click()
    assert finished.args == [False]
    assert "anna (operator) may not create" in dialog.message.text()
    assert not dialog.retry_button.isVisible()  # who is logged in is the problem: Retry would not help
    assert database.products.list() == []
    who["user"] = eve
    with qtbot.waitSignal(dialog.product_created):
        dialog.create_button.click()
    qtbot.waitUntil(lambda: not dialog.reading, timeout=5000)
    with qtbot.waitSignal(dialog.references_changed):
        dialog.add_frame_button.click()
    (product,) = database.products.list()
    assert product.reference_count == 1
    assert [(e.action, e.actor) for e in g.audit.list(newest_first=False)][-2:] == [
        ("product_created", "eve"),
        ("reference_added", "eve"),
    ]
