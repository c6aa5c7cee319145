"""Exports that are themselves audited: the audit trail as CSV and the printable lot report (PDF).

    export_audit_csv(guarded, actor, "audit.csv", start=None, end=None)            -> rows written
    export_lot_report(guarded, actor, "widget", start, end, "lot.pdf")             -> the LotReport printed

Both need the ``export`` right (engineer, admin). The file is written first (atomically), then the ``export``
event in the audit trail; should the event not be written, the file is removed again and the error raised: there
is no export without its event. CSV cells go through the same formula-injection guard as the history export.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from . import audit
from .audit import AuditEventInfo, append_event
from .errors import StorageError
from .guarded import GuardedDatabase
from .history import csv_text, write_text_atomic
from .lot_report import LotReport, build_lot_report
from .report_pdf import write_lot_report_pdf
from .roles import EXPORT
from .session import make_sessionmaker, transaction
from .users import UserInfo, acting_row

AUDIT_CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "at_utc",
    "actor",
    "action",
    "target",
    "before",
    "after",
    "reason",
    "prev_hash",
    "hash",
)


def _json_cell(value: Any) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def audit_csv_text(events: list[AuditEventInfo]) -> str:
    """The events as CSV text (UTF-8, header row; JSON for before/after), oldest first as given."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(AUDIT_CSV_COLUMNS)
    for e in events:
        writer.writerow(
            [
                csv_text(v)
                for v in (
                    e.id,
                    e.at.isoformat(timespec="microseconds"),
                    e.actor,
                    e.action,
                    e.target,
                    _json_cell(e.before),
                    _json_cell(e.after),
                    e.reason or "",
                    e.prev_hash,
                    e.hash,
                )
            ]
        )
    return buf.getvalue()


def _target(path: str | os.PathLike[str], example: str) -> Path:
    target = Path(path)
    if target.is_dir():
        raise StorageError(f"{target} is a folder; choose a file name for the export (e.g. {example}).")
    return target


def _record(guarded: GuardedDatabase, actor: UserInfo, target: Path, after: dict[str, Any]) -> None:
    try:
        with transaction(make_sessionmaker(guarded.database.engine), "record the export") as session:
            by = acting_row(session, actor, EXPORT).name
            append_event(
                session,
                actor=by,
                action=audit.EXPORTED,
                target=f"file:{target.name}",
                after={"path": str(target.resolve()), **after},
            )
    except BaseException:
        try:
            target.unlink()
        except OSError:
            pass
        raise


def export_audit_csv(
    guarded: GuardedDatabase,
    actor: UserInfo,
    path: str | os.PathLike[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> int:
    """Write the audit trail (events with ``start <= at < end``, oldest first) as CSV; returns the rows written."""
    guarded.check(actor, EXPORT)
    target = _target(path, "audit.csv")
    events = guarded.audit.list(start=start, end=end, limit=None, newest_first=False)
    write_text_atomic(target, audit_csv_text(events), "the audit export")
    _record(
        guarded,
        actor,
        target,
        {
            "kind": "audit_csv",
            "rows": len(events),
            "first_id": events[0].id if events else None,
            "last_id": events[-1].id if events else None,
            "start": start,
            "end": end,
        },
    )
    return len(events)


def export_lot_report(
    guarded: GuardedDatabase,
    actor: UserInfo,
    product: str | int,
    start: datetime,
    end: datetime,
    path: str | os.PathLike[str],
) -> LotReport:
    """Build the lot report of ``product`` for ``start <= time < end`` and print it to ``path`` as PDF."""
    who = guarded.check(actor, EXPORT)
    target = _target(path, "lot-report.pdf")
    report = build_lot_report(guarded.database, product, start, end)
    head = guarded.audit.head()
    write_lot_report_pdf(report, target, generated_by=who.name, audit_head=head.hash if head is not None else None)
    _record(
        guarded,
        actor,
        target,
        {
            "kind": "lot_report_pdf",
            "product": report.product,
            "start": report.start,
            "end": report.end,
            "inspected": report.inspected,
            "rejected": report.rejected,
            "reviews": len(report.reviews),
        },
    )
    return report


__all__ = ["AUDIT_CSV_COLUMNS", "audit_csv_text", "export_audit_csv", "export_lot_report"]
