"""Locked, read-only, full, unreachable and damaged databases: a clear message, and nothing half-written."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

import core.atomic as atomic_module
import db.inspections as inspections_module
from db.engine import DB_FILENAME, make_engine
from db.errors import (
    DatabaseCorruptError,
    DatabaseError,
    DatabaseFullError,
    DatabaseLockedError,
    DatabaseReadOnlyError,
    DatabaseUnreachableError,
    StorageError,
)
from db.image_store import ImageStore
from db.models import ChatMessage, Inspection, ReferenceImage
from db.repository import IMAGES_FOLDER, Database


def rows(database: Database, model) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    Database.open(folder).close()  # a migrated station database
    return folder


def test_locked_database_gives_a_clear_error_and_no_row(data_dir: Path, make_frame, make_result, store_files) -> None:
    database = Database.open(data_dir, busy_timeout_ms=150)
    product = database.products.create("widget")
    rec = database.inspections.record(product_id=product.id, result=make_result("FAIL", 2.0), image=make_frame(0))
    other = sqlite3.connect(data_dir / DB_FILENAME, isolation_level=None)  # another program holding the write lock
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO products (name, created_at, settings) VALUES ('held', '2024-01-01 00:00:00', '{}')")
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError, match="database is busy") as info:
            database.inspections.record(product_id=product.id, result=make_result(), image=make_frame(1))
        assert time.monotonic() - started >= 0.1  # it waited for the busy timeout first
        assert "Wait a moment and retry" in str(info.value)
        with pytest.raises(DatabaseLockedError):
            database.inspections.mark_false_alarm(rec.id, by="qa", add_as_reference=True)
        with pytest.raises(DatabaseLockedError):
            database.products.create("gadget")
        assert [p.name for p in database.products.list()] == ["widget"]  # reading still works (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert rows(database, Inspection) == 1  # no row from the failed record
    assert len(store_files(database.store.root)) == 2  # its frame was stored first: harmless, content-addressed
    assert database.inspections.get(rec.id).review_status == "none"  # the review rolled back as a whole
    assert rows(database, ReferenceImage) == 0
    database.inspections.record(product_id=product.id, result=make_result(), image=make_frame(1))  # retry works
    assert rows(database, Inspection) == 2
    database.close()


def test_read_only_database_is_reported(data_dir: Path, make_frame, make_result) -> None:
    writable = Database.open(data_dir)
    product = writable.products.create("widget")
    url = f"sqlite:///file:{(data_dir / DB_FILENAME).as_posix()}?mode=ro&uri=true"
    read_only = Database.open(data_dir, url=url)
    try:
        assert [p.name for p in read_only.products.list()] == ["widget"]
        with pytest.raises(DatabaseReadOnlyError, match="read-only.*writable"):
            read_only.inspections.record(product_id=product.id, result=make_result(), image=make_frame(1))
        with pytest.raises(DatabaseReadOnlyError):
            read_only.chat.append("user", "hello")
    finally:
        read_only.close()
    assert rows(writable, Inspection) == 0 and rows(writable, ChatMessage) == 0
    writable.close()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_permissions_are_reported(data_dir: Path) -> None:
    database = Database.open(data_dir)
    database.close()
    (data_dir / DB_FILENAME).chmod(0o444)
    try:
        with pytest.raises(DatabaseReadOnlyError):
            Database.open(data_dir).products.create("widget")
    finally:
        (data_dir / DB_FILENAME).chmod(0o644)


def test_database_disk_full_is_reported_and_rolled_back(data_dir: Path, make_frame, make_result) -> None:
    engine = make_engine(data_dir=data_dir)

    @event.listens_for(engine, "connect")
    def _cap_size(dbapi_connection, _record) -> None:  # the file may not grow any more: SQLITE_FULL
        cur = dbapi_connection.cursor()
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()

    database = Database(engine, ImageStore(data_dir / IMAGES_FOLDER))
    with pytest.raises(DatabaseFullError, match="disk holding the database is full"):
        for i in range(20):  # fills the few free pages left, then fails
            database.chat.append("user", "x" * 20000 + str(i))
    engine.dispose()
    with Database.open(data_dir) as fresh:
        saved = rows(fresh, ChatMessage)
        assert all(len(m.text) > 20000 for m in fresh.chat.for_product(None, limit=100))
        assert saved < 20


def test_disk_full_while_storing_the_frame_records_nothing(
    data_dir: Path, make_frame, make_result, monkeypatch: pytest.MonkeyPatch, store_files
) -> None:
    database = Database.open(data_dir)
    product = database.products.create("widget")

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "fsync", full)  # the disk fills while the frame is flushed
    with pytest.raises(StorageError, match="full") as info:
        database.inspections.record(
            product_id=product.id, result=make_result(), image=make_frame(1), heatmap=make_frame(2)
        )
    assert isinstance(info.value, DatabaseError)  # one family to catch in the UI
    assert rows(database, Inspection) == 0
    assert store_files(database.store.root) == []
    monkeypatch.undo()
    database.inspections.record(product_id=product.id, result=make_result(), image=make_frame(1), heatmap=make_frame(2))
    assert rows(database, Inspection) == 1
    database.close()


def test_heatmap_failure_after_the_frame_records_nothing(
    data_dir: Path, make_frame, make_result, monkeypatch: pytest.MonkeyPatch, store_files
) -> None:
    database = Database.open(data_dir)
    product = database.products.create("widget")
    real_write = ImageStore._write_atomic
    calls = {"n": 0}

    def second_write_fails(final: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the heatmap
            raise OSError(errno.EROFS, "Read-only file system")
        real_write(final, data)

    monkeypatch.setattr(ImageStore, "_write_atomic", staticmethod(second_write_fails))
    with pytest.raises(StorageError, match="read-only disk"):
        database.inspections.record(
            product_id=product.id, result=make_result(), image=make_frame(1), heatmap=make_frame(2)
        )
    assert rows(database, Inspection) == 0
    assert len(store_files(database.store.root)) == 1  # the frame alone, whole: no row points to a missing heatmap
    database.close()


def test_a_crash_between_insert_and_commit_leaves_no_row(
    data_dir: Path, make_frame, make_result, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database.open(data_dir)
    product = database.products.create("widget")

    def crash(*_args, **_kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(inspections_module, "inspection_record", crash)  # runs after the INSERT was flushed
    with pytest.raises(RuntimeError, match="power cut"):
        database.inspections.record(product_id=product.id, result=make_result(), image=make_frame(1))
    assert rows(database, Inspection) == 0
    database.close()


def test_unreachable_databases_are_reported(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnreachableError, match="does not exist"):
        Database.open(tmp_path, url=f"sqlite:///{tmp_path.as_posix()}/missing-folder/station.sqlite3")
    with pytest.raises(DatabaseUnreachableError, match="cannot be opened"):
        Database.open(tmp_path, url=f"sqlite:///file:{tmp_path.as_posix()}/absent.sqlite3?mode=ro&uri=true")
    with pytest.raises(DatabaseUnreachableError, match="not valid"):
        Database.open(tmp_path, url="not a url")
    # closed port: "connection refused", or "driver not installed" where psycopg is absent
    with pytest.raises(DatabaseUnreachableError, match="cannot be opened or reached|driver 'psycopg' is not installed"):
        Database.open(tmp_path, url="postgresql+psycopg://station@127.0.0.1:9/station")


def test_damaged_database_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / DB_FILENAME).write_bytes(b"this is not a database " * 500)
    with pytest.raises(DatabaseCorruptError, match="damaged.*backup"):
        Database.open(tmp_path)
    assert (tmp_path / DB_FILENAME).read_bytes().startswith(b"this is not a database")  # left untouched
