"""Schema migrations at start-up: ``upgrade(engine)`` brings the database to this version's schema.

The Alembic scripts ship inside the package (db/migrations). Production code never calls ``create_all``: a
new database is created by running every migration, exactly as an old one is brought up to date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from .errors import DatabaseError, SchemaTooNewError, SchemaTooOldError, SchemaVersionError, translate

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"


def alembic_config() -> Config:
    """A programmatic Alembic config pointing at the packaged migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have no head revision"
    return head


def _known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty or unversioned database)."""
    try:
        with engine.connect() as conn:
            return _current(conn)
    except SQLAlchemyError as exc:
        raise translate(exc, action="read the database version") from exc


def _check_not_newer(conn: Connection) -> str | None:
    current = _current(conn)
    if current is not None and current not in _known_revisions():
        raise SchemaTooNewError(
            f"The database was created by a newer version of the station (schema {current}; this version knows up to "
            f"{head_revision()}). Update the station software, or choose another data folder."
        )
    if current is None:
        tables = set(inspect(conn).get_table_names()) - {VERSION_TABLE}
        if tables:
            raise SchemaVersionError(
                "The database holds tables but no schema version, so it was not made by the station "
                f"({', '.join(sorted(tables)[:5])}). Choose another data folder or database URL."
            )
    return current


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the database to ``revision`` (default: the newest). Returns the revision reached.

    Raises SchemaTooNewError when the database comes from a newer station, SchemaVersionError for a foreign
    database, and the DatabaseError family (locked, read-only, unreachable...) for the rest. All migration
    steps run in one transaction where the backend allows it (SQLite, PostgreSQL), so a failure leaves the old
    schema in place.
    """
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            current = _check_not_newer(conn)
            target = head_revision() if revision == "head" else revision
            if current != target:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            reached = _current(conn)
    except DatabaseError:
        raise
    except SQLAlchemyError as exc:
        raise translate(exc, action="prepare the database") from exc
    return reached or ""


def check_schema(engine: Engine) -> None:
    """Raise SchemaTooOldError / SchemaTooNewError unless the database is exactly at the head revision."""
    try:
        with engine.connect() as conn:
            current = _check_not_newer(conn)
    except DatabaseError:
        raise
    except SQLAlchemyError as exc:
        raise translate(exc, action="read the database version") from exc
    head = head_revision()
    if current != head:
        raise SchemaTooOldError(
            f"The database schema is {current or 'empty'}, this station needs {head}. Start the station normally so it "
            "can upgrade the database (make a backup copy of the data folder first)."
        )


def schema_differences(engine: Engine) -> list[Any]:
    """Alembic autogenerate's comparison of the live schema with the models (empty when they match)."""
    from alembic.autogenerate import compare_metadata

    from .models import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))


__all__ = ["alembic_config", "check_schema", "current_revision", "head_revision", "schema_differences", "upgrade"]
