"""History of inspections: filtered, paged queries and CSV export (atomic write)."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from core import atomic

from .convert import inspection_record
from .errors import StorageError, ValidationError, storage_error_for
from .image_store import ImageStore
from .models import REVIEW_NONE, REVIEW_STATUSES, VERDICTS, Inspection, Product, Review
from .records import HistoryFilter, HistoryPage, InspectionRecord
from .reviews import open_requests
from .session import reading
from .types import ensure_utc

CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "time_utc",
    "product",
    "station",
    "operator",
    "source",
    "source_name",
    "verdict",
    "probability",
    "score",
    "threshold",
    "threshold_overridden",
    "regions",
    "region_locations",
    "largest_region_area_pct",
    "review_status",
    "reviewed_by",
    "reviewed_at_utc",
    "review_note",
    "width",
    "height",
    "image_path",
    "image_sha256",
    "heatmap_path",
    "heatmap_sha256",
    "encoder_id",
    "calibration_id",
    "total_ms",
)


AnySelect = TypeVar("AnySelect", bound="Select[*tuple[Any, ...]]")  # a select of any columns


def apply_filter(query: AnySelect, f: HistoryFilter) -> AnySelect:
    """Add the filter's WHERE clauses to a query over ``Inspection``."""
    if f.product_id is not None:
        query = query.where(Inspection.product_id == f.product_id)
    if f.verdict is not None:
        verdict = f.verdict.upper()
        if verdict not in VERDICTS:
            raise ValidationError(f"Unknown verdict filter {f.verdict!r}; use PASS or FAIL.")
        query = query.where(Inspection.verdict == verdict)
    if f.start is not None:
        query = query.where(Inspection.time >= ensure_utc(f.start, "start"))
    if f.end is not None:
        query = query.where(Inspection.time < ensure_utc(f.end, "end"))
    if f.reviewed is True:
        query = query.where(Inspection.review_status != REVIEW_NONE)
    elif f.reviewed is False:
        query = query.where(Inspection.review_status == REVIEW_NONE)
    if f.review_status is not None:
        if f.review_status not in REVIEW_STATUSES:
            raise ValidationError(
                f"Unknown review status {f.review_status!r}; use one of {', '.join(REVIEW_STATUSES)}."
            )
        query = query.where(Inspection.review_status == f.review_status)
    if f.station is not None:
        query = query.where(Inspection.station == f.station)
    if f.review_requested is True:
        query = query.where(Inspection.id.in_(open_requests().with_only_columns(Review.inspection_id)))
    return query


def _ordered(query: AnySelect, f: HistoryFilter) -> AnySelect:
    if f.newest_first:
        return query.order_by(Inspection.time.desc(), Inspection.id.desc())
    return query.order_by(Inspection.time, Inspection.id)


# A spreadsheet starts a formula at a cell (or, after a line break, a line) beginning with one of these (the
# full-width forms too); leading spaces do not stop some of them, so the first non-space character counts.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
# Every line break a spreadsheet or str.splitlines() knows; inside a cell they all become "\n", which the CSV
# writer then quotes (it is the line terminator), so no value can end a row.
_LINE_BREAKS = re.compile("\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _safe_line(line: str) -> str:
    stripped = line.lstrip(" ")
    if stripped and stripped[0] in FORMULA_STARTS:
        return "'" + line
    return line


def csv_text(value: Any) -> str:
    """Text cell safe to open in a spreadsheet: no line of it can start a formula (``= + - @``, tab, CR) and no
    bare CR or other line break can split the row. NUL characters are dropped."""
    text = "" if value is None else str(value).replace("\x00", "")
    return "\n".join(_safe_line(line) for line in _LINE_BREAKS.split(text))


_csv_text = csv_text  # the old private name


def _csv_row(r: InspectionRecord) -> list[Any]:
    areas = [float(reg.get("area_pct", 0.0) or 0.0) for reg in r.regions if isinstance(reg, dict)]
    total_ms = r.timings.get("total")
    return [
        r.id,
        r.time.isoformat(),
        _csv_text(r.product_name),
        _csv_text(r.station),
        _csv_text(r.operator),
        _csv_text(r.source),
        _csv_text(r.source_name),
        r.verdict,
        f"{r.probability:.6g}",
        f"{r.score:.6g}",
        f"{r.threshold:.6g}",
        int(r.threshold_overridden),
        len(r.regions),
        _csv_text("; ".join(loc for loc in r.region_locations if loc)),
        f"{max(areas):.4g}" if areas else "",
        r.review_status,
        _csv_text(r.reviewed_by),
        r.reviewed_at.isoformat() if r.reviewed_at else "",
        _csv_text(r.review_note),
        r.width,
        r.height,
        r.image_path,
        r.image_sha256,
        r.heatmap_path or "",
        r.heatmap_sha256 or "",
        _csv_text(r.encoder_id),
        _csv_text(r.calibration_id),
        f"{float(total_ms):.1f}" if isinstance(total_ms, (int, float)) else "",
    ]


def write_text_atomic(path: Path, text: str, what: str) -> None:
    """Write ``text`` to ``path`` atomically (core/atomic.py); a failure is a StorageError saying ``what``."""
    try:
        atomic.write_text_atomic(path, text, newline="", prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise storage_error_for(exc, what, path.parent) from exc


class HistoryRepository:
    def __init__(self, maker: sessionmaker[Session], store: ImageStore) -> None:
        self._maker = maker
        self._store = store

    def _records(self, session: Session, f: HistoryFilter, *, paged: bool) -> list[InspectionRecord]:
        query = _ordered(
            apply_filter(select(Inspection, Product.name).join(Product, Product.id == Inspection.product_id), f), f
        )
        if paged:
            if f.offset:
                query = query.offset(max(0, int(f.offset)))
            if f.limit is not None:
                query = query.limit(max(0, int(f.limit)))
        return [inspection_record(row, name, self._store) for row, name in session.execute(query).all()]

    def query(self, f: HistoryFilter | None = None) -> HistoryPage:
        """One page of inspections matching the filter, newest first, plus the total count."""
        f = f or HistoryFilter()
        with reading(self._maker, "read the history") as session:
            total = int(session.scalar(apply_filter(select(func.count()).select_from(Inspection), f)) or 0)
            return HistoryPage(records=tuple(self._records(session, f, paged=True)), total=total, filter=f)

    def export_csv(self, f: HistoryFilter | None, path: str | os.PathLike[str]) -> int:
        """Write every inspection matching the filter (paging ignored) as CSV (UTF-8, header row) to ``path``,
        atomically: the file is either the complete new export or untouched. Returns the number of rows."""
        f = f or HistoryFilter()
        with reading(self._maker, "export the history") as session:
            records = self._records(session, f, paged=False)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for r in records:
            writer.writerow(_csv_row(r))
        target = Path(path)
        if target.is_dir():
            raise StorageError(f"{target} is a folder; choose a file name for the export (e.g. history.csv).")
        write_text_atomic(target, buf.getvalue(), "the CSV export")
        return len(records)


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read an exported history back (for checks and re-import tools)."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


__all__ = ["CSV_COLUMNS", "HistoryRepository", "apply_filter", "csv_text", "read_csv", "write_text_atomic"]
