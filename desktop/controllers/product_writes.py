"""The products dialog's database writes, run on a database thread (desktop/workers/db_task.py), and the words
shown when one fails. No Qt here: each job gets the repositories and the operator's input and returns what the
dialog shows. An error of the database itself (locked, read-only, unreachable) stops the job and is raised, so the
dialog can offer Retry with the same input; adding the same image again keeps one row, so a retry is safe."""

from __future__ import annotations

from pathlib import Path

from db.auth_errors import AuthenticationError, PermissionDenied
from db.errors import (
    DatabaseError,
    DatabaseLockedError,
    DuplicateError,
    NotFoundError,
    StorageError,
    ValidationError,
)

_FILE_PROBLEMS = (StorageError, ValidationError)  # this one file cannot be used; the others still can


def file_problem(path: str, exc: Exception) -> str:
    name = Path(path).name
    return str(exc) if name in str(exc) else f"{name}: {exc}"


def store_files(references, product_id: int, files: list[str]) -> tuple[int, list[str]]:
    """Add each file on its own so one bad file does not stop the others; returns (added, problems)."""
    added, problems = 0, []
    for f in files:
        try:
            references.add(product_id, f, source="file")
            added += 1
        except _FILE_PROBLEMS as exc:
            problems.append(file_problem(f, exc))
    return added, problems


def replace_reference(references, product_id: int, reference_id: int, path: str) -> list[str]:
    """Store the new file first, then remove the old reference: a bad new file leaves the old one in place.
    Returns the problems with the new file (empty once replaced)."""
    try:
        new = references.add(product_id, path, source="file")
    except _FILE_PROBLEMS as exc:
        return [file_problem(path, exc)]
    if all(r.id != reference_id for r in new):  # the same picture again is the old row itself: keep it
        references.remove(reference_id)
    return []


def write_failure(exc: Exception) -> tuple[str, bool]:
    """What to tell the operator about a failed write, and whether Retry (same input) can help."""
    if isinstance(exc, (DuplicateError, ValidationError, NotFoundError, PermissionDenied, AuthenticationError)):
        return str(exc), False  # the input (or who is logged in) is the problem: the message says what to change
    if isinstance(exc, DatabaseLockedError):
        text = (
            "Not saved: another program holds the database (it is locked). Close that program or wait until "
            "it finishes, then press Retry."
        )
    elif isinstance(exc, DatabaseError):
        text = f"Not saved. {exc} Then press Retry."
    else:
        text = f"Not saved: {exc}. Press Retry; if it fails again, restart the station."
    return f"{text} Nothing you entered is lost.", True


__all__ = ["file_problem", "replace_reference", "store_files", "write_failure"]
