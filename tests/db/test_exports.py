"""Audited exports: the audit trail as CSV and the printable lot report (PDF) of one product and date range, from
the database layer and from `main.py audit export` / `main.py report`."""

from __future__ import annotations

import csv
import io
import re
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import main as main_module
from db.auth_errors import PermissionDenied
from db.exports import AUDIT_CSV_COLUMNS, export_audit_csv, export_lot_report
from db.guarded import GuardedDatabase
from db.lot_report import build_lot_report
from db.report_pdf import render_lot_report
from db.repository import Database

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def lot(database: Database, make_frame, make_result):
    """A product with 4 inspections on 30 Nov (1 PASS, 3 FAIL) and one on 2 Dec; two reviews by eve, one by root
    that supersedes one of hers."""
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-password")
    eve = g.users.add(admin, "eve", "engineer", "engineer-password")
    anna = g.users.add(admin, "anna", "operator", "operator-password")
    product = g.create_product(eve, "widget", references=[make_frame(1)], calibration={"id": "c1", "threshold": 1.0})
    ids = []
    for i, (verdict, locs) in enumerate([("PASS", ()), ("FAIL", ("top left",)), ("FAIL", ("center",)), ("FAIL", ())]):
        rec = database.inspections.record(
            product_id=product.id,
            result=make_result(verdict, 2.0 if verdict == "FAIL" else 0.3, locations=locs),
            image=make_frame(10 + i),
            time=T0 + timedelta(hours=i),
            part_id=f"P-{i}",
        )
        ids.append(rec.id)
    database.inspections.record(
        product_id=product.id, result=make_result("FAIL", 2.0), image=make_frame(20), time=T0 + timedelta(days=2)
    )
    g.review(eve, ids[1], "false_alarm", reason='=HYPERLINK("x") dust on the lens')
    g.review(eve, ids[2], "confirmed_defect")
    g.review(admin, ids[1], "confirmed_defect", reason="looked again: a real scratch")
    return g, admin, eve, anna, product, ids


def pdf_text(data: bytes) -> str:
    """The text of an fpdf2 PDF: its content streams, decompressed (parentheses in texts are escaped: ``\\(``)."""
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:  # a zlib stream ends by itself: the line break before "endstream" is left over, whatever its bytes
            out.append(zlib.decompressobj().decompress(m.group(1)).decode("latin-1"))
        except zlib.error:
            out.append(m.group(1).decode("latin-1"))
    return "\n".join(out)


def test_the_lot_report_counts_yield_rejects_and_who_reviewed(lot) -> None:
    g, _admin, _eve, _anna, product, ids = lot
    report = build_lot_report(g.database, "widget", T0, T0 + timedelta(days=1))
    assert (report.inspected, report.passed, report.rejected) == (4, 1, 3)
    assert report.yield_rate == pytest.approx(0.25)
    assert [r.inspection_id for r in report.rejects] == ids[1:]
    assert [r.label_in_force for r in report.rejects] == ["confirmed_defect", "confirmed_defect", None]
    assert (report.confirmed_defects, report.false_alarms) == (2, 0)
    assert [(r.inspection_id, r.label, r.by, r.superseded) for r in report.reviews] == [
        (ids[1], "false_alarm", "eve", True),
        (ids[1], "confirmed_defect", "root", False),
        (ids[2], "confirmed_defect", "eve", False),
    ]
    assert report.reviewers == ("eve", "root")
    assert report.product_id == product.id


def test_the_pdf_report_is_written_and_audited(lot, tmp_path: Path) -> None:
    g, _admin, eve, _anna, _product, ids = lot
    events = g.audit.count()
    target = tmp_path / "lot.pdf"
    report = export_lot_report(g, eve, "widget", T0, T0 + timedelta(days=1), target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    text = pdf_text(data)
    for fragment in (
        "Lot report: widget",
        "25.0 %",
        f"#{ids[1]}",
        "P-1",
        "false alarm \\(superseded\\)",
        "root",
        "eve",
    ):
        assert fragment in text, fragment
    assert report.inspected == 4
    assert g.audit.count() == events + 1
    event = g.audit.list(limit=1)[0]
    assert (event.action, event.actor, event.target) == ("export", "eve", "file:lot.pdf")
    assert event.after["kind"] == "lot_report_pdf" and event.after["inspected"] == 4
    assert g.audit.verify() is None


def test_an_operator_may_not_export_and_nothing_is_written(lot, tmp_path: Path) -> None:
    g, _admin, _eve, anna, _product, _ids = lot
    events = g.audit.count()
    for export in (
        lambda: export_lot_report(g, anna, "widget", T0, T0 + timedelta(days=1), tmp_path / "x.pdf"),
        lambda: export_audit_csv(g, anna, tmp_path / "x.csv"),
    ):
        with pytest.raises(PermissionDenied):
            export()
    assert not list(tmp_path.glob("x.*")) and g.audit.count() == events


def test_names_outside_latin1_do_not_stop_the_report(lot) -> None:
    g, _admin, _eve, _anna, _product, _ids = lot
    report = build_lot_report(g.database, "widget", T0, T0 + timedelta(days=1))
    assert render_lot_report(report, generated_by="Łukasz 王").startswith(b"%PDF-")


def test_the_audit_trail_as_csv_is_complete_formula_safe_and_audited(lot, tmp_path: Path) -> None:
    g, _admin, eve, _anna, _product, _ids = lot
    events = g.audit.list(newest_first=False, limit=None)
    target = tmp_path / "audit.csv"
    assert export_audit_csv(g, eve, target) == len(events)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == AUDIT_CSV_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == [e.id for e in events]
    assert [r[-1] for r in rows[1:]] == [e.hash for e in events]
    reasons = [r[AUDIT_CSV_COLUMNS.index("reason")] for r in rows[1:]]
    assert '\'=HYPERLINK("x") dust on the lens' in reasons  # a formula is never a formula in a spreadsheet
    assert all(not cell.startswith(("=", "+", "@")) for r in rows[1:] for cell in r)
    last = g.audit.list(limit=1)[0]
    assert (last.action, last.after["kind"], last.after["rows"]) == ("export", "audit_csv", len(events))
    assert g.audit.verify() is None


def test_the_csv_of_a_date_range(lot, tmp_path: Path) -> None:
    g, _admin, eve, _anna, _product, _ids = lot
    future = datetime.now(UTC) + timedelta(days=1)
    assert export_audit_csv(g, eve, tmp_path / "none.csv", start=future) == 0
    assert len((tmp_path / "none.csv").read_text().splitlines()) == 1


def test_the_headless_commands(lot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    data_dir = tmp_path / "data"  # the `database` fixture's folder

    def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        rc = main_module.main([*argv, "--data-dir", str(data_dir)])
        out, err = capsys.readouterr()
        return rc, out, err

    rc, out, err = cli(
        "report",
        "--product",
        "widget",
        "--from",
        "2026-11-30",
        "--to",
        "2026-11-30",
        "--pdf",
        str(tmp_path / "r.pdf"),
        "--user",
        "eve",
        "--password-stdin",
        stdin="engineer-password\n",
    )
    assert rc == 0, err
    assert "4 inspected, 3 rejected, yield 25.0%" in out and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    rc, out, err = cli(
        "audit",
        "export",
        "--csv",
        str(tmp_path / "a.csv"),
        "--user",
        "eve",
        "--password-stdin",
        stdin="engineer-password\n",
    )
    assert rc == 0, err
    assert "wrote" in out and (tmp_path / "a.csv").read_text().startswith("id,at_utc,actor")
    rc, _out, err = cli(
        "report",
        "--product",
        "widget",
        "--from",
        "2026-11-30",
        "--to",
        "2026-11-30",
        "--pdf",
        str(tmp_path / "o.pdf"),
        "--user",
        "anna",
        "--password-stdin",
        stdin="operator-password\n",
    )
    assert rc == 3 and "refused" in err and not (tmp_path / "o.pdf").exists()
    rc, _out, err = cli("report", "--product", "widget", "--from", "30.11.", "--to", "x", "--pdf", "y.pdf")
    assert rc == 2 and "not a date" in err
