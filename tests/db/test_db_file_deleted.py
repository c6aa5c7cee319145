"""Issue 15 (fault harness): the database file deleted under a running station. SQLite kept writing into the
unlinked file, the station said "saved #N", and every row was gone once it closed. Now every transaction on a
file that was deleted or replaced raises a transient DatabaseUnreachableError: nothing is reported saved, the
writer keeps the result and retries."""

from __future__ import annotations

import os
import shutil

import pytest

from db.engine import DB_FILENAME
from db.errors import DatabaseUnreachableError
from db.repository import Database
from line.write_errors import is_transient


def _record(db, product_id, make_result, make_frame, seed):
    return db.inspections.record(product_id=product_id, result=make_result(), image=make_frame(seed))


def test_a_deleted_database_file_refuses_writes_instead_of_losing_them(database, make_result, make_frame, tmp_path):
    product = database.products.create("widget")
    _record(database, product.id, make_result, make_frame, 1)
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "data" / f"{DB_FILENAME}{suffix}").unlink(missing_ok=True)
    with pytest.raises(DatabaseUnreachableError, match="deleted or replaced") as info:
        _record(database, product.id, make_result, make_frame, 2)
    assert is_transient(info.value)  # the writers keep the result and retry; the window shows the message
    with pytest.raises(DatabaseUnreachableError):
        database.products.list()


def test_a_replaced_database_file_is_refused_too(database, make_result, make_frame, tmp_path):
    product = database.products.create("widget")
    _record(database, product.id, make_result, make_frame, 1)
    folder = tmp_path / "data"
    with Database.open(tmp_path / "other") as other:
        other.products.create("widget")
    database.engine.dispose()  # the file is swapped while no connection holds it
    shutil.copy(tmp_path / "other" / DB_FILENAME, folder / "new.sqlite3")
    os.replace(folder / "new.sqlite3", folder / DB_FILENAME)
    with pytest.raises(DatabaseUnreachableError, match="deleted or replaced"):
        _record(database, product.id, make_result, make_frame, 2)


def test_an_untouched_database_keeps_working_across_connections(database, make_result, make_frame):
    product = database.products.create("widget")
    for seed in range(3):
        _record(database, product.id, make_result, make_frame, seed)
        database.engine.dispose()  # fresh connections see the same file
    assert len(database.products.list()) == 1
