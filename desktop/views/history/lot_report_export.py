"""The printable lot report (PDF) of the History's current filter: its product and its date range. What the report
holds and the export right are db/exports.py's and db/lot_report.py's; this module turns the filter into the
report's range and says what was written. No Qt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from db.lot_report import LotReport
from db.records import HistoryFilter

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # "any time": from before any station recorded anything


@dataclass(frozen=True)
class LotReportRange:
    product_id: int
    start: datetime
    end: datetime


def report_range(f: HistoryFilter, now: datetime | None = None) -> LotReportRange | str:
    """The report's product and range from the filter, or what to choose first (a report is of one product)."""
    if f.product_id is None:
        return "Choose one product in the filter first: a lot report is of one product."
    end = f.end or (now or datetime.now(UTC)) + timedelta(seconds=1)
    return LotReportRange(int(f.product_id), f.start or EARLIEST, end)


def suggested_name(product_name: str | None, today: date | None = None) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in (product_name or "product")).strip("-").lower() or "product"
    return f"lot-report-{safe[:60]}-{(today or date.today()).isoformat()}.pdf"


def report_written(report: LotReport, path: str) -> str:
    """The banner's words once the PDF is written."""
    rate = report.yield_rate
    yield_text = f", yield {100 * rate:.1f}%" if rate is not None else ""
    return (
        f"Lot report of {report.product} saved to {path}: {report.inspected} inspected, {report.rejected} "
        f"rejected{yield_text}, {len(report.reviews)} review{'s' if len(report.reviews) != 1 else ''}."
    )


__all__ = ["EARLIEST", "LotReportRange", "report_range", "report_written", "suggested_name"]
