"""`python main.py audit verify [--data-dir D]`: check the audit trail's hash chain.

Exit status 0 and one line naming the head (its id and hash: keep a copy outside the station, and a later check
can prove that nothing was rewritten) when the trail is intact; exit status 1 and the first row that does not fit,
with why, when it is not.
"""

from __future__ import annotations

import argparse

from .common import EXIT_FAILED, add_data_dir, make_parser, opened, run


def build_parser() -> argparse.ArgumentParser:
    p = make_parser("main.py audit", "Check the station's audit trail.")
    sub = p.add_subparsers(dest="command", metavar="verify")
    sub.required = True
    verify = sub.add_parser("verify", help="walk the hash chain; non-zero exit at the first row that does not fit")
    add_data_dir(verify)
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
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
