"""The lot report as a printable PDF (fpdf2, A4 portrait, core fonts only: nothing is downloaded or embedded).

    write_lot_report_pdf(report, "lot-widget-2026-12.pdf", generated_by="anna", audit_head="ab12...")

Texts are printed in Latin-1 (the core fonts' range); other characters become "?", so a name typed in another
script never stops a report. The file is written atomically: the complete report or nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from core.atomic import atomic_open

from .errors import storage_error_for
from .lot_report import LotReport

_LABELS = {"confirmed_defect": "confirmed defect", "false_alarm": "false alarm", "needs_review": "needs review"}


def _latin1(text: object) -> str:
    return str(text if text is not None else "").encode("latin-1", "replace").decode("latin-1")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100.0 * value:.1f} %"


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_lot_report(report: LotReport, *, generated_by: str, audit_head: str | None = None) -> bytes:
    """The PDF's bytes."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(_latin1(f"Lot report {report.product}"))
    pdf.set_author(_latin1(generated_by))
    pdf.set_creator("inspection-station")
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def line(text: str, size: float = 10, style: str = "", height: float = 5.5) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, height, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(headers: list[str], widths: list[float], rows: list[list[str]]) -> None:
        pdf.set_font("Helvetica", "B", 8)
        for h, w in zip(headers, widths, strict=True):
            pdf.cell(w, 6, _latin1(h), border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 8)
        for row in rows:
            for value, w in zip(row, widths, strict=True):
                text = _latin1(value)
                while text and pdf.get_string_width(text) > w - 1.5:  # one line a cell: cut long texts
                    text = text[:-2] + "~"
                pdf.cell(w, 5.5, text, border=1)
            pdf.ln()

    line(f"Lot report: {report.product}", 16, "B", 9)
    line(f"Inspections from {_when(report.start)} to {_when(report.end)} (end not included)")
    threshold = "not calibrated" if report.threshold_in_use is None else f"{report.threshold_in_use:.4g}"
    if report.threshold_override_by:
        threshold += f" (override by {report.threshold_override_by})"
    line(f"Product #{report.product_id}, threshold in use now: {threshold}")
    line(f"Generated {_when(report.generated_at)} by {generated_by}")
    if audit_head:
        line(f"Audit trail head at generation: {audit_head}", 8)
    pdf.ln(3)
    line("Summary", 12, "B", 7)
    table(
        ["inspected", "passed", "rejected", "yield", "rejects reviewed", "confirmed defects", "false alarms"],
        [22, 22, 22, 22, 32, 32, 28],
        [
            [
                str(report.inspected),
                str(report.passed),
                str(report.rejected),
                _pct(report.yield_rate),
                str(sum(1 for r in report.rejects if r.label_in_force)),
                str(report.confirmed_defects),
                str(report.false_alarms),
            ]
        ],
    )
    pdf.ln(3)
    line(f"Rejects ({len(report.rejects)})", 12, "B", 7)
    if report.rejects:
        table(
            ["inspection", "time (UTC)", "part id", "probability", "where", "review in force"],
            [20, 32, 34, 22, 42, 30],
            [
                [
                    f"#{r.inspection_id}",
                    r.time.strftime("%Y-%m-%d %H:%M:%S"),
                    r.part_id or "",
                    f"{100.0 * r.probability:.1f} %",
                    ", ".join(dict.fromkeys(loc for loc in r.locations if loc)) or "-",
                    _LABELS.get(r.label_in_force or "", "not reviewed"),
                ]
                for r in report.rejects
            ],
        )
    else:
        line("No rejects in this range.")
    pdf.ln(3)
    reviewers = ", ".join(report.reviewers) or "nobody"
    line(f"Reviews ({len(report.reviews)}; reviewed by {reviewers})", 12, "B", 7)
    if report.reviews:
        table(
            ["review", "inspection", "verdict", "label", "by", "when (UTC)", "reason"],
            [14, 20, 15, 38, 24, 30, 39],
            [
                [
                    f"#{r.review_id}",
                    f"#{r.inspection_id}",
                    r.verdict,
                    _LABELS.get(r.label, r.label) + (" (superseded)" if r.superseded else ""),
                    r.by,
                    r.at.strftime("%Y-%m-%d %H:%M"),
                    r.reason or "",
                ]
                for r in report.reviews
            ],
        )
    else:
        line("No reviews in this range.")
    pdf.ln(6)
    line("Reviewed and released by: ______________________   Date: ____________   Signature: ____________", 9)
    return bytes(pdf.output())


def write_lot_report_pdf(
    report: LotReport, path: str | os.PathLike[str], *, generated_by: str, audit_head: str | None = None
) -> Path:
    """Write the report to ``path`` atomically (a temporary file renamed into place)."""
    target = Path(path)
    data = render_lot_report(report, generated_by=generated_by, audit_head=audit_head)
    try:
        with atomic_open(target) as fh:
            fh.write(data)
    except OSError as exc:
        raise storage_error_for(exc, "the PDF report", target.parent) from exc
    return target


__all__ = ["render_lot_report", "write_lot_report_pdf"]
