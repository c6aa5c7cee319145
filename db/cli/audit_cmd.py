"""`python main.py audit verify [--data-dir D]`: check the audit trail's hash chain.
`python main.py audit export --csv F [--from D] [--to D] --user ENGINEER --password-stdin [--data-dir D]`: the trail
as CSV (formula-safe cells, JSON for before/after, each row's hashes); the export is itself an audited event.

Exit status 0 and one line naming the head (its id and hash: keep a copy outside the station, and a later check
can prove that nothing was rewritten) when the trail is intact; exit status 1 and the first row that does not fit,
with why, when it is not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import EXIT_FAILED, Passwords, acting, add_actor, add_data_dir, make_parser, opened, run


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("main.py audit", "Check or export the station's audit trail.")
    sub = p.add_subparsers(dest="command", metavar="verify|export")
    sub.required = True
    verify = sub.add_parser("verify", help="walk the hash chain; non-zero exit at the first row that does not fit")
    add_data_dir(verify)
    export = sub.add_parser("export", help="write the audit trail as CSV (an audited export)")
    export.add_argument("--csv", required=True, type=Path, metavar="FILE", help="the CSV file to write")
    export.add_argument("--from", dest="start", default=None, metavar="DATE", help="first day (YYYY-MM-DD) or moment")
    export.add_argument("--to", dest="end", default=None, metavar="DATE", help="last day, included (or a moment)")
    add_actor(export)
    add_data_dir(export)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    if args.command == "export":
        return _export(args)
    with opened(args) as guarded:
        broken = guarded.audit.verify()
        if broken is not None:
            print(f"audit trail BROKEN at row #{broken.id}: {broken.problem}")
            return EXIT_FAILED
        head = guarded.audit.head()
        if head is None:
            print("audit trail intact: no events yet")
        else:
            print(
                f"audit trail intact: {guarded.audit.count()} events, head #{head.id} "
                f"({head.at:%Y-%m-%d %H:%M:%S} UTC) sha256 {head.hash}"
            )
        return 0


def _export(args: argparse.Namespace) -> int:
    from ..exports import export_audit_csv
    from .report_cmd import parse_moment

    start = parse_moment(args.start, end=False) if args.start else None
    end = parse_moment(args.end, end=True) if args.end else None
    with opened(args) as guarded:
        with acting(guarded, args, Passwords(bool(args.password_stdin))) as actor:
            n = export_audit_csv(guarded, actor, args.csv, start=start, end=end)
    print(f"wrote {args.csv}: {n} audit event{'s' if n != 1 else ''}")
    return 0
