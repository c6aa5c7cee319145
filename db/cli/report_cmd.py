"""`python main.py report --product P --from D --to D --pdf F --user ENGINEER --password-stdin [--data-dir D]`:
the printable lot report of one product over a date range (yield, rejects, reviews and who reviewed them).

``--from`` / ``--to`` take a date (YYYY-MM-DD, the station's local time; ``--to`` includes that whole day) or a
date and time (YYYY-MM-DDTHH:MM, ``--to`` then excluded). Writing the report is an ``export`` in the audit trail.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path

from .common import Passwords, UsageError, acting, add_actor, add_data_dir, make_parser, opened, run


def parse_moment(text: str, *, end: bool) -> datetime:
    """A date or date-time from the command line as an aware datetime (local time when no zone is given).
    A bare date as an end means the end of that day."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    if end and len(value) == 10:  # a date only: that whole day
        moment += timedelta(days=1)
    return moment


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("main.py report", "Print a product's lot report (PDF) for a date range.")
    p.add_argument("--product", required=True, help="the product (name or id)")
    p.add_argument("--from", dest="start", required=True, metavar="DATE", help="first day (YYYY-MM-DD) or moment")
    p.add_argument("--to", dest="end", required=True, metavar="DATE", help="last day, included (or a moment, excluded)")
    p.add_argument("--pdf", required=True, type=Path, metavar="FILE", help="the PDF file to write")
    add_actor(p)
    add_data_dir(p)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from ..exports import export_lot_report

    start, end = parse_moment(args.start, end=False), parse_moment(args.end, end=True)
    if end <= start:
        raise UsageError("--to must be after --from")
    product: str | int = int(args.product) if str(args.product).isdigit() else args.product
    with opened(args) as guarded:
        with acting(guarded, args, Passwords(bool(args.password_stdin))) as actor:
            report = export_lot_report(guarded, actor, product, start, end, args.pdf)
    yield_text = "n/a" if report.yield_rate is None else f"{100 * report.yield_rate:.1f}%"
    print(
        f"wrote {args.pdf}: {report.product}, {report.inspected} inspected, {report.rejected} rejected, "
        f"yield {yield_text}, {len(report.reviews)} reviews"
    )
    return 0
