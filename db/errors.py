"""Typed errors of the persistence layer.

Every error carries a one-line message meant for a person: what went wrong, where, and what to do.
Everything the ``db`` package raises on purpose derives from :class:`DatabaseError`, so the desktop can
catch one type, show ``str(error)`` and keep running. :func:`translate` turns SQLAlchemy/driver errors into
these types; it never hides the original (kept as ``__cause__`` and in ``detail``).
"""

from __future__ import annotations

import errno
import sqlite3


class DatabaseError(Exception):
    """Base class: the station could not read or write its records."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail  # the driver's own words, for the log


class DatabaseLockedError(DatabaseError):
    """Another program kept the database busy longer than the busy timeout."""


class DatabaseReadOnlyError(DatabaseError):
    """The database (or its folder) cannot be written."""


class DatabaseFullError(DatabaseError):
    """The disk (or the database's size limit) is full."""


class DatabaseUnreachableError(DatabaseError):
    """The database file or server cannot be opened or reached."""


class DatabaseCorruptError(DatabaseError):
    """The database file is damaged or is not a database at all."""


class SchemaVersionError(DatabaseError):
    """The database schema does not match this version of the station."""


class SchemaTooNewError(SchemaVersionError):
    """The database was written by a newer version of the station."""


class SchemaTooOldError(SchemaVersionError):
    """The database has not been migrated to this version's schema."""


class NotFoundError(DatabaseError):
    """A product, reference, inspection or stored file does not exist."""


class DuplicateError(DatabaseError):
    """A name (or other unique value) is already taken."""


class ProductInUseError(DatabaseError):
    """A product still has recorded inspections and cannot simply be deleted."""


class ValidationError(DatabaseError):
    """A value handed to the repository is unusable (empty name, unknown verdict, NaN score...)."""


class StorageError(DatabaseError):
    """An image file could not be written to or read from the image store."""


class InvalidImageError(StorageError):
    """Bytes handed to the image store are not a decodable image."""


def storage_error_for(exc: OSError, what: str, where: object) -> StorageError:
    """A StorageError with a human message for an OSError while writing ``what`` under ``where``."""
    code = exc.errno
    if code == errno.ENOSPC or code == getattr(errno, "EDQUOT", -1):
        msg = f"The disk holding {where} is full, so {what} was not saved. Free some space (or move the data folder) and try again."
    elif code == errno.EROFS:
        msg = f"{where} is on a read-only disk, so {what} was not saved. Remount it writable or choose another data folder."
    elif code in (errno.EACCES, errno.EPERM):
        msg = f"No permission to write in {where}, so {what} was not saved. Fix the folder's permissions or choose another data folder."
    elif code == errno.ENOENT:
        msg = f"{where} does not exist (was the drive removed?), so {what} was not saved. Reconnect it or choose another data folder."
    else:
        msg = f"Could not save {what} in {where}: {exc.strerror or exc}. Check the disk and try again."
    return StorageError(msg, detail=repr(exc))


def translate(exc: BaseException, *, action: str = "access the database") -> DatabaseError:
    """Map a SQLAlchemy / DB-API error to the DatabaseError family, with a message that says what to do."""
    if isinstance(exc, DatabaseError):
        return exc
    from sqlalchemy import exc as sa_exc  # local: keeps this module importable without side effects

    orig = getattr(exc, "orig", None) or exc
    text = str(orig).lower()
    detail = str(orig)

    if isinstance(exc, sa_exc.IntegrityError):
        if "unique" in text or "duplicate" in text:
            return DuplicateError(
                f"Could not {action}: that name or file is already recorded. Choose another name.", detail=detail
            )
        return DatabaseError(
            f"Could not {action}: the record refers to something that no longer exists or is incomplete.", detail=detail
        )

    if isinstance(
        exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DatabaseError, sqlite3.Error)
    ) or isinstance(orig, sqlite3.Error):
        if (
            "database is locked" in text
            or "database table is locked" in text
            or "database is busy" in text
            or "lock timeout" in text
            or "could not obtain lock" in text
            or "deadlock detected" in text
        ):
            return DatabaseLockedError(
                f"Could not {action}: the database is busy (locked by another program or station). "
                "Wait a moment and retry; if it persists, close other programs using the station's data folder.",
                detail=detail,
            )
        if "readonly" in text or "read-only" in text or "read only" in text:
            return DatabaseReadOnlyError(
                f"Could not {action}: the database is read-only. Make the data folder and its station.sqlite3 file "
                "writable, or choose another data folder.",
                detail=detail,
            )
        if "disk is full" in text or "no space left" in text or "disk full" in text or "could not extend file" in text:
            return DatabaseFullError(
                f"Could not {action}: the disk holding the database is full. Free some space and retry; nothing was saved.",
                detail=detail,
            )
        if (
            "unable to open database" in text
            or "could not connect" in text
            or "connection refused" in text
            or "connection failed" in text
            or "failed to resolve host" in text
            or "name or service not known" in text
            or "timeout expired" in text
            or "connection to server" in text
            or "could not translate host name" in text
            or "server closed the connection" in text
            or ("does not exist" in text and "database" in text)
            or "password authentication failed" in text
        ):
            return DatabaseUnreachableError(
                f"Could not {action}: the database cannot be opened or reached. Check the data folder (or the "
                "INSPECTION_DB_URL setting, the network and the server) and try again.",
                detail=detail,
            )
        if "malformed" in text or "not a database" in text or "file is encrypted" in text:
            return DatabaseCorruptError(
                f"Could not {action}: the database file is damaged or is not a station database. Restore it from a "
                "backup, or move it aside to start a new one.",
                detail=detail,
            )
    if isinstance(exc, ModuleNotFoundError):
        return DatabaseUnreachableError(
            f"Could not {action}: the database driver '{exc.name}' is not installed. Install it into the station's "
            "environment or use the default SQLite database.",
            detail=str(exc),
        )
    return DatabaseError(f"Could not {action}: {detail}", detail=detail)


__all__ = [
    "DatabaseCorruptError",
    "DatabaseError",
    "DatabaseFullError",
    "DatabaseLockedError",
    "DatabaseReadOnlyError",
    "DatabaseUnreachableError",
    "DuplicateError",
    "InvalidImageError",
    "NotFoundError",
    "ProductInUseError",
    "SchemaTooNewError",
    "SchemaTooOldError",
    "SchemaVersionError",
    "StorageError",
    "ValidationError",
    "storage_error_for",
    "translate",
]
