"""Engine factory: where the station's database lives and how connections are set up.

Default: SQLite at ``<data_dir>/station.sqlite3``. ``data_dir`` comes from the argument, else the environment
variable ``INSPECTION_DATA_DIR``, else ``platformdirs.user_data_dir("inspection-station")``. A full SQLAlchemy
URL (argument, else ``INSPECTION_DB_URL``) replaces the SQLite file, e.g. a shared PostgreSQL server.

SQLite connections get: WAL journal (readers never block the writer), ``synchronous=FULL``, ``foreign_keys=ON`` and a busy timeout
(5000 ms by default) so a briefly busy database waits instead of failing at once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from .errors import DatabaseUnreachableError, translate

log = logging.getLogger(__name__)

APP_NAME = "inspection-station"
DB_FILENAME = "station.sqlite3"
ENV_DATA_DIR = "INSPECTION_DATA_DIR"
ENV_DB_URL = "INSPECTION_DB_URL"
DEFAULT_BUSY_TIMEOUT_MS = 5000


def default_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The station's data folder: the argument, else $INSPECTION_DATA_DIR, else the per-user data folder."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def database_url(url: str | None = None, data_dir: str | os.PathLike[str] | None = None) -> str:
    """The URL the station uses: the argument, else $INSPECTION_DB_URL, else SQLite in the data folder."""
    if url:
        return str(url)
    env = os.environ.get(ENV_DB_URL, "").strip()
    if env:
        return env
    folder = default_data_dir(data_dir)
    return f"sqlite:///{(folder / DB_FILENAME).as_posix()}"


def _prepare_sqlite_folder(url: str, create: bool) -> None:
    u = make_url(url)
    database = u.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    if folder.exists():
        return
    if not create:
        raise DatabaseUnreachableError(
            f"The database folder {folder} does not exist. Create it, reconnect its drive, or choose another data folder."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnreachableError(
            f"Could not create the data folder {folder}: {exc.strerror or exc}. Choose another data folder "
            f"(--data-dir or {ENV_DATA_DIR}).",
            detail=repr(exc),
        ) from exc


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                except Exception as exc:  # noqa: BLE001 - a read-only file cannot switch modes; reads still work
                    log.debug("journal_mode WAL refused: %s", exc)
                cursor.execute("PRAGMA synchronous = FULL")  # a committed inspection survives a power cut
        finally:
            cursor.close()


def _guard_sqlite_file(engine: Engine, path: Path) -> None:
    """Refuse every transaction once the database file was deleted or replaced under the running station.

    SQLite keeps writing into an open file that was unlinked: each write succeeds and the station says "saved",
    and every row is gone once it closes (issue 15). The file's identity is taken at the first connection; a
    transaction that finds the path missing or holding another file raises DatabaseUnreachableError (a transient
    error: the writer keeps the results, retries, and the window says what happened).
    """
    identity: dict[str, tuple[int, int]] = {}

    def current() -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    @event.listens_for(engine, "connect")
    def _remember(_dbapi_connection: Any, _record: Any) -> None:
        if "file" not in identity:
            now = current()
            if now is not None:
                identity["file"] = now

    @event.listens_for(engine, "begin")
    def _check(_connection: Any) -> None:
        expected = identity.get("file")
        if expected is not None and current() != expected:
            raise DatabaseUnreachableError(
                f"The database file {path} was deleted or replaced while the station was running, so nothing more "
                "is written to it. Put the file back (or restore it from a backup) and restart the station; a "
                "restart without it starts a new, empty database. Results waiting to be saved are kept.",
                detail=f"expected file {expected}, found {current()}",
            )


def make_engine(
    url: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    echo: bool = False,
) -> Engine:
    """Create the SQLAlchemy engine (no connection is opened yet).

    Raises DatabaseUnreachableError when the URL is malformed, its driver is missing or the SQLite folder
    cannot be created.
    """
    explicit = bool(url) or bool(os.environ.get(ENV_DB_URL, "").strip())
    resolved = database_url(url, data_dir)
    try:
        parsed = make_url(resolved)
    except Exception as exc:
        raise DatabaseUnreachableError(
            f"The database URL {resolved!r} is not valid. Use e.g. sqlite:////path/station.sqlite3 or "
            "postgresql+psycopg://user@host/dbname.",
            detail=str(exc),
        ) from exc

    kwargs: dict[str, Any] = {"echo": echo}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        # Default SQLite file: create its folder. An explicit URL must point to an existing folder.
        _prepare_sqlite_folder(resolved, create=not explicit)
        kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000.0, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except Exception as exc:
        raise translate(exc, action="open the database") from exc
    if is_sqlite:
        in_memory = parsed.database in (None, "", ":memory:")
        _install_sqlite_pragmas(engine, busy_timeout_ms, wal=not in_memory)
        if not in_memory and not str(parsed.database).startswith("file:"):
            _guard_sqlite_file(engine, Path(parsed.database or "").expanduser().absolute())
    return engine


__all__ = ["DB_FILENAME", "ENV_DATA_DIR", "ENV_DB_URL", "database_url", "default_data_dir", "make_engine"]
