"""Issue 15: a ``kill -9`` between an inspection's files and its row left a file no row refers to, and nothing
removed it at the next start (1 in 35 kills of the line runner). The start-up clean-up moves such files to the
quarantine folder with a log line; files rows name, files newer than the start and files of inspections still
unsaved stay where they are; nothing moves when the database cannot be read."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

import db.inspections
from db.image_store import encode_png, sha256_bytes
from db.models import ReferenceImage
from db.orphan_files import MARKER, quarantine_folder_of, quarantine_orphan_files


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _crash_between_files_and_row(database, product_id, make_result, make_frame, seed, monkeypatch):
    """``record`` as a kill -9 leaves it: both files written, the row never committed."""

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("killed")  # stands for the process dying inside the transaction

    with monkeypatch.context() as patch:
        patch.setattr(db.inspections, "product_row", killed)
        with pytest.raises(KeyboardInterrupt):
            database.inspections.record(
                product_id=product_id, result=make_result(), image=make_frame(seed), heatmap=make_frame(seed + 100)
            )
    frame = database.store.find(sha256_bytes(encode_png(make_frame(seed))))
    heat = database.store.find(sha256_bytes(encode_png(make_frame(seed + 100))))
    assert frame is not None and heat is not None
    return frame, heat


def test_files_without_a_row_are_moved_to_the_quarantine_with_a_log_line(
    database, make_result, make_frame, monkeypatch, caplog
):
    product = database.products.create("widget")
    ref = database.references.add(product.id, [make_frame(50)])[0]
    kept = database.inspections.record(
        product_id=product.id, result=make_result(), image=make_frame(1), heatmap=make_frame(2)
    )
    orphans = _crash_between_files_and_row(database, product.id, make_result, make_frame, 10, monkeypatch)
    for path in database.store.root.glob("??/*.png"):
        _age(path, 60)

    with caplog.at_level(logging.WARNING, logger="db.orphan_files"):
        sweep = quarantine_orphan_files(database.engine, database.store, before=time.time())

    folder = quarantine_folder_of(database.store)
    assert sorted(p.name for p in sweep.moved) == sorted(p.name for p in orphans)
    assert all(not p.exists() and (folder / p.name).is_file() for p in orphans)
    assert kept.image_file.is_file() and kept.heatmap_file.is_file() and ref.image_file.is_file()
    assert database.inspections.get(kept.id).image_sha256 == kept.image_sha256
    assert "has no inspection or reference row" in caplog.text and str(folder) in caplog.text
    assert (database.store.root / MARKER).is_file()
    again = quarantine_orphan_files(database.engine, database.store, before=time.time())
    assert again.moved == [] and again.failed == 0


def test_files_newer_than_the_start_and_files_of_unsaved_inspections_stay(
    database, make_result, make_frame, monkeypatch
):
    product = database.products.create("widget")
    old_frame, old_heat = _crash_between_files_and_row(database, product.id, make_result, make_frame, 1, monkeypatch)
    _age(old_frame, 60)
    _age(old_heat, 60)
    started = time.time() - 30  # the files below were written after the station started (its own writer)
    young = database.store.put_png(make_frame(7)).path

    sweep = quarantine_orphan_files(
        database.engine, database.store, before=started, keep={sha256_bytes(encode_png(make_frame(1)))}
    )

    assert old_frame.is_file(), "the frame of an inspection still in the unsaved folder was moved"
    assert young.is_file(), "a file written after the start was moved"
    assert [p.name for p in sweep.moved] == [old_heat.name] and sweep.kept == 1


def test_a_quarantined_file_a_row_names_later_is_moved_back(database, make_result, make_frame, monkeypatch):
    product = database.products.create("widget")
    frame, _heat = _crash_between_files_and_row(database, product.id, make_result, make_frame, 3, monkeypatch)
    for path in database.store.root.glob("??/*.png"):
        _age(path, 60)
    quarantine_orphan_files(database.engine, database.store, before=time.time())
    parked = quarantine_folder_of(database.store) / frame.name
    assert parked.is_file() and not frame.exists()
    # another program (the product CLI) committed a row naming the file after the clean-up had looked
    with database.engine.begin() as conn:
        conn.execute(
            insert(ReferenceImage.__table__).values(
                product_id=product.id,
                image_path=f"{frame.parent.name}/{frame.name}",
                image_sha256=frame.stem,
                width=32,
                height=24,
                added_at=datetime.now(UTC),
                source="file",
                active=True,
            )
        )
    sweep = quarantine_orphan_files(database.engine, database.store, before=time.time())
    assert frame.is_file() and not parked.exists()
    assert sweep.restored == [f"{frame.parent.name}/{frame.name}"]
    assert database.store.verify(frame.stem)


def test_nothing_moves_when_the_database_cannot_be_read(database, make_result, make_frame, monkeypatch, tmp_path):
    product = database.products.create("widget")
    frame, heat = _crash_between_files_and_row(database, product.id, make_result, make_frame, 4, monkeypatch)
    _age(frame, 60)
    _age(heat, 60)
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'folder' / 'station.sqlite3'}")
    sweep = quarantine_orphan_files(broken, database.store, before=time.time())
    assert sweep.skipped and sweep.moved == []
    assert frame.is_file() and heat.is_file()
