"""The audit chain checked when the station starts (the window and the line runner): a database edited behind the
station's back is said plainly, in the log and on screen, before anybody trusts its history.

    problem = check_audit_at_start(database)      # None when the chain is intact
"""

from __future__ import annotations

import logging
import time

from .audit import AuditTrail
from .errors import DatabaseError
from .repository import Database
from .session import make_sessionmaker

log = logging.getLogger(__name__)


def audit_problem_text(row_id: int, problem: str) -> str:
    return (
        f"The audit trail is broken at row #{row_id}: {problem}. The database was changed outside the station; "
        "do not trust the history or the thresholds until the QA lead has checked it (main.py audit verify)."
    )


def check_audit_at_start(database: Database) -> str | None:
    """Walk the whole chain; None when it is intact, else one sentence for the log and the screen (logged here as
    an error). A chain that cannot be read at all (database unreachable) is said too."""
    t0 = time.perf_counter()
    try:
        broken = AuditTrail(make_sessionmaker(database.engine)).verify()
    except DatabaseError as exc:
        text = f"The audit trail could not be checked at start: {exc}"
        log.error("%s", text)
        return text
    took = time.perf_counter() - t0
    if broken is None:
        log.info("audit trail intact (checked at start in %.2f s)", took)
        return None
    text = audit_problem_text(broken.id, broken.problem)
    log.error("%s", text)
    return text


__all__ = ["audit_problem_text", "check_audit_at_start"]
