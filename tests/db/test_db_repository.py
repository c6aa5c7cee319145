"""The repository as the desktop uses it: products, references, record -> history -> review -> CSV, chat."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from core.result import FAIL, PASS
from db.errors import (
    DuplicateError,
    NotFoundError,
    ProductInUseError,
    StorageError,
    ValidationError,
)
from db.history import CSV_COLUMNS, read_csv
from db.models import Inspection
from db.records import HistoryFilter, InspectionRecord
from db.repository import Database

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)  # a Monday


def count_inspections(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Inspection)).scalar_one())


# ------------------------------------------------------------------ products
def test_products_create_list_rename_delete(database: Database) -> None:
    a = database.products.create("  widget   A ", settings={"camera": 0}, now=T0)
    b = database.products.create("bracket-7")
    assert a.name == "widget A" and a.settings == {"camera": 0} and a.created_at == T0
    assert [p.name for p in database.products.list()] == ["bracket-7", "widget A"]
    with pytest.raises(DuplicateError, match="already exists"):
        database.products.create("WIDGET a")
    with pytest.raises(DuplicateError):
        database.products.rename(b.id, "widget a")
    with pytest.raises(ValidationError, match="needs a name"):
        database.products.create("   ")
    renamed = database.products.rename(a.id, "widget-A2")
    assert database.products.get("widget-A2").id == a.id == renamed.id
    database.products.delete(b.id)
    with pytest.raises(NotFoundError, match="Known products: widget-A2"):
        database.products.get(b.id)


def test_settings_calibration_and_threshold_override(database: Database) -> None:
    p = database.products.create("gear")
    p = database.products.update_settings(p.id, {"exposure": 10})
    p = database.products.update_settings(p.id, {"gain": 2})
    assert p.settings == {"exposure": 10, "gain": 2}
    p = database.products.save_calibration(p.id, {"threshold": 1.25, "method": "quantile"})
    assert p.threshold_in_use == 1.25 and p.threshold_override is None
    p = database.products.set_threshold_override(p.id, 1.5, by="supervisor", now=T0)
    assert (p.threshold_in_use, p.threshold_override_by, p.threshold_override_at) == (1.5, "supervisor", T0)
    with pytest.raises(ValidationError, match="finite"):
        database.products.set_threshold_override(p.id, math.nan, by="x")
    p = database.products.set_threshold_override(p.id, None, by="supervisor")
    assert p.threshold_in_use == 1.25 and p.threshold_override_by is None


def test_product_with_history_is_not_deleted_by_accident(database: Database, make_frame, make_result) -> None:
    p = database.products.create("cap")
    rec = database.inspections.record(product_id=p.id, result=make_result(FAIL, 2.0), image=make_frame(1))
    database.chat.append("user", "why?", inspection_id=rec.id)
    with pytest.raises(ProductInUseError, match="1 recorded inspection"):
        database.products.delete(p.id)
    assert count_inspections(database) == 1
    database.products.delete(p.id, delete_history=True)
    assert count_inspections(database) == 0
    assert database.products.list() == []
    assert rec.image_file.is_file()  # files stay in the store (content-addressed, harmless)


# ------------------------------------------------------------------ references
def test_reference_images_add_list_replace_remove(database: Database, make_frame, tmp_path: Path) -> None:
    from PIL import Image

    p = database.products.create("lid")
    file_ref = tmp_path / "good_01.png"
    Image.fromarray(make_frame(12)).save(file_ref)
    refs = database.references.add(p.id, [make_frame(10), make_frame(11), file_ref], now=T0)
    assert [r.source for r in refs] == ["file"] * 3
    assert refs[2].original_name == "good_01.png"
    assert all(r.image_file.is_file() and (r.width, r.height) == (32, 24) for r in refs)
    assert database.products.get(p.id).reference_count == 3

    again = database.references.add(p.id, make_frame(10))  # the same picture again: still one row
    assert again[0].id == refs[0].id
    assert len(database.references.list(p.id)) == 3

    database.references.set_active(refs[1].id, False)
    assert [r.id for r in database.references.list(p.id)] == [refs[0].id, refs[2].id]
    assert len(database.references.list(p.id, active_only=False)) == 3

    arrays = database.references.load_arrays(p.id)
    assert np.array_equal(arrays[0], make_frame(10))

    replaced = database.references.replace(p.id, [make_frame(10), make_frame(20)], source="camera")
    assert replaced[0].id == refs[0].id  # kept, not duplicated
    assert {r.id for r in database.references.list(p.id, active_only=False)} == {r.id for r in replaced}

    database.references.remove(replaced[1].id)
    assert [r.id for r in database.references.list(p.id)] == [refs[0].id]
    with pytest.raises(NotFoundError):
        database.references.remove(replaced[1].id)


def test_corrupt_reference_bytes_are_refused(database: Database, store_files) -> None:
    p = database.products.create("lid")
    with pytest.raises(StorageError, match="not a readable image"):
        database.references.add(p.id, b"\x89PNG\r\n\x1a\n broken")
    assert database.references.list(p.id) == []
    assert store_files(database.store.root) == []


# ------------------------------------------------------------------ the round trip
def test_record_history_review_csv_round_trip(database: Database, make_frame, make_result, tmp_path: Path) -> None:
    widget = database.products.create("widget")
    other = database.products.create("other")
    frames = [make_frame(100 + i) for i in range(6)]
    plan = [
        (widget, PASS, 0.4, ()),
        (widget, FAIL, 2.5, ("top left", "center")),
        (other, FAIL, 3.0, ("bottom right",)),
        (widget, FAIL, 1.9, ("center",)),
        (widget, PASS, 0.6, ()),
        (other, PASS, 0.2, ()),
    ]
    records: list[InspectionRecord] = []
    for i, (product, verdict, score, locs) in enumerate(plan):
        rec = database.inspections.record(
            product_id=product.id,
            result=make_result(verdict, score, threshold=1.5, locations=locs),
            image=frames[i],
            heatmap=make_frame(200 + i),
            time=T0 + timedelta(minutes=10 * i),
            station="line-2",
            operator="=cmd|' /C calc'!A0" if i == 1 else "anna",
            source="camera",
            model_ids={"encoder": "efficientnet-lite0", "llm": "smollm2"},
        )
        records.append(rec)

    first = records[1]
    assert first.image_file.is_file() and first.heatmap_file is not None and first.heatmap_file.is_file()
    assert database.store.verify(first.image_sha256) and database.store.verify(first.heatmap_sha256 or "")
    assert np.array_equal(database.store.read_array(first.image_sha256), frames[1])
    assert first.regions[0]["location"] == "top left" and first.region_locations == ("top left", "center")
    assert first.timings == {"features": 3.0, "total": 10.5}
    assert first.model_ids == {"encoder": "efficientnet-lite0", "llm": "smollm2"}
    assert first.time == T0 + timedelta(minutes=10) and first.time.tzinfo is not None
    assert database.inspections.get(first.id) == first

    page = database.history.query(HistoryFilter(product_id=widget.id, verdict="FAIL"))
    assert page.total == 2 and [r.id for r in page.records] == [records[3].id, records[1].id]  # newest first
    window = HistoryFilter(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=40), newest_first=False)
    assert [r.id for r in database.history.query(window).records] == [records[1].id, records[2].id, records[3].id]
    paged = database.history.query(HistoryFilter(limit=2, offset=1))
    assert paged.total == 6 and [r.id for r in paged.records] == [records[4].id, records[3].id]

    reviewed = database.inspections.mark_false_alarm(
        records[3].id, by="supervisor", note="dust on the lens", add_as_reference=True, now=T0 + timedelta(hours=1)
    )
    assert (reviewed.review_status, reviewed.reviewed_by, reviewed.review_note) == (
        "false_alarm",
        "supervisor",
        "dust on the lens",
    )
    assert reviewed.reviewed_at == T0 + timedelta(hours=1)
    new_refs = database.references.list(widget.id)
    assert [(r.image_sha256, r.source) for r in new_refs] == [(records[3].image_sha256, "false_alarm")]
    database.inspections.confirm_defect(records[1].id, by="supervisor")
    with pytest.raises(ValidationError, match="cannot be a false alarm"):
        database.inspections.mark_false_alarm(records[0].id, by="supervisor")

    assert [r.id for r in database.history.query(HistoryFilter(reviewed=True, newest_first=False)).records] == [
        records[1].id,
        records[3].id,
    ]
    assert database.history.query(HistoryFilter(reviewed=False)).total == 4
    assert [r.id for r in database.history.query(HistoryFilter(review_status="confirmed_defect")).records] == [
        records[1].id
    ]

    out = tmp_path / "exports" / "widget-fails.csv"
    n = database.history.export_csv(HistoryFilter(product_id=widget.id, verdict="FAIL", limit=1), out)
    assert n == 2  # paging is ignored by the export
    rows = read_csv(out)
    assert list(rows[0].keys()) == list(CSV_COLUMNS)
    assert [int(r["id"]) for r in rows] == [records[3].id, records[1].id]
    assert rows[0]["review_status"] == "false_alarm" and rows[0]["review_note"] == "dust on the lens"
    assert rows[1]["review_status"] == "confirmed_defect"
    assert rows[1]["region_locations"] == "top left; center" and rows[1]["regions"] == "2"
    assert rows[1]["operator"].startswith("'=")  # a spreadsheet will not run it as a formula
    assert rows[1]["time_utc"] == "2024-03-04T08:10:00+00:00"
    assert rows[1]["image_sha256"] == records[1].image_sha256
    assert [p.name for p in out.parent.iterdir()] == ["widget-fails.csv"]  # no temporary left

    cleared = database.inspections.clear_review(records[1].id)
    assert cleared.review_status == "none" and cleared.reviewed_by is None


def test_export_failure_keeps_the_previous_file(
    database: Database, make_frame, make_result, tmp_path: Path, monkeypatch
) -> None:
    import errno

    import db.history as history_module

    p = database.products.create("x")
    database.inspections.record(product_id=p.id, result=make_result(), image=make_frame(1))
    out = tmp_path / "history.csv"
    out.write_text("previous export\n")

    def full(*_a):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(history_module.os, "fsync", full)
    with pytest.raises(StorageError, match="full"):
        database.history.export_csv(None, out)
    assert out.read_text() == "previous export\n"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["data", "history.csv"]
    with pytest.raises(StorageError, match="is a folder"):
        database.history.export_csv(None, tmp_path)


def test_bad_results_are_refused_before_anything_is_written(
    database: Database, make_frame, make_result, store_files
) -> None:
    p = database.products.create("x")
    with pytest.raises(ValidationError, match="score is nan"):
        database.inspections.record(product_id=p.id, result=make_result(score=float("nan")), image=make_frame(1))
    with pytest.raises(ValidationError, match="Unknown verdict"):
        maybe = {"verdict": "MAYBE", "probability": 0.5, "score": 1.0, "threshold": 1.0}
        database.inspections.record(product_id=p.id, result=maybe, image=make_frame(1))
    with pytest.raises(ValidationError, match="incomplete"):
        database.inspections.record(product_id=p.id, result={"verdict": "FAIL"}, image=make_frame(1))
    with pytest.raises(ValidationError, match="unknown fields \\['threshold_overridden'\\]"):  # one name per field
        aliased = {"verdict": "FAIL", "probability": 0.9, "score": 2.0, "threshold": 1.0, "threshold_overridden": True}
        database.inspections.record(product_id=p.id, result=aliased, image=make_frame(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        database.inspections.record(
            product_id=p.id, result=make_result(), image=make_frame(1), time=datetime(2024, 1, 1)
        )
    assert count_inspections(database) == 0
    assert store_files(database.store.root) == []


def test_missing_product_leaves_files_but_no_row(database: Database, make_frame, make_result, store_files) -> None:
    with pytest.raises(NotFoundError, match="no product with id 99"):
        database.inspections.record(product_id=99, result=make_result(), image=make_frame(1), heatmap=make_frame(2))
    assert count_inspections(database) == 0
    assert len(store_files(database.store.root)) == 2  # durable files, written first; harmless without a row


def test_numpy_values_and_mappings_are_recorded_as_plain_json(database: Database, make_frame) -> None:
    p = database.products.create("x")
    result = {
        "verdict": "fail",
        "probability": np.float32(0.75),
        "score": np.float64(2.0),
        "threshold": 1.0,
        "regions": [
            {"bbox": [np.int64(1), 2, 3, 4], "area_pct": np.float32(0.5), "location": "center", "peak": float("inf")}
        ],
        "timings_ms": {"total": np.float32(4.0)},
        "image_size": (32, 24),
    }
    rec = database.inspections.record(product_id=p.id, result=result, image=make_frame(3), heatmap=None)
    assert rec.verdict == "FAIL" and rec.probability == 0.75 and rec.heatmap_file is None
    assert rec.regions == ({"bbox": [1, 2, 3, 4], "area_pct": 0.5, "location": "center", "peak": None},)
    assert rec.timings == {"total": 4.0}


# ------------------------------------------------------------------ chat
def test_chat_messages_per_inspection_and_product(database: Database, make_frame, make_result) -> None:
    p = database.products.create("x")
    rec = database.inspections.record(product_id=p.id, result=make_result(FAIL, 2.0), image=make_frame(1))
    database.chat.append("user", "Why did it fail?", inspection_id=rec.id, time=T0)
    database.chat.append(
        "assistant", "A scratch at the top left.", inspection_id=rec.id, time=T0 + timedelta(seconds=2)
    )
    database.chat.append("user", "How many rejects today?", product_id=p.id, time=T0 + timedelta(seconds=5))
    database.chat.append("user", "Which product fails most?", time=T0 + timedelta(seconds=6))
    conv = database.chat.for_inspection(rec.id)
    assert [(m.role, m.text) for m in conv] == [
        ("user", "Why did it fail?"),
        ("assistant", "A scratch at the top left."),
    ]
    assert conv[0].product_id == p.id and conv[0].time == T0
    assert [m.text for m in database.chat.for_product(p.id)][-1] == "How many rejects today?"
    assert [m.text for m in database.chat.for_product(p.id, general_only=True)] == ["How many rejects today?"]
    assert [m.text for m in database.chat.for_product(None)] == ["Which product fails most?"]
    assert len(database.chat.for_product(p.id, limit=1)) == 1
    with pytest.raises(ValidationError, match="Unknown chat role"):
        database.chat.append("robot", "hi")
    with pytest.raises(NotFoundError):
        database.chat.append("user", "hi", inspection_id=12345)
