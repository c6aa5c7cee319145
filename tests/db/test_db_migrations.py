"""Migrations on a temporary SQLite file; the migrated schema equals the models; version checks; engine setup."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from db import migrate
from db.engine import DB_FILENAME, ENV_DATA_DIR, ENV_DB_URL, database_url, default_data_dir, make_engine
from db.errors import SchemaTooNewError, SchemaTooOldError, SchemaVersionError
from db.models import Base

HEAD = "0005_own_map"


def test_upgrade_creates_every_table_and_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        assert migrate.current_revision(engine) is None
        assert migrate.upgrade(engine) == migrate.head_revision() == HEAD
        tables = set(inspect(engine).get_table_names())
        assert {"products", "reference_images", "inspections", "chat_messages", "alembic_version"} <= tables
        assert {"users", "audit_events", "reviews", "station_settings"} <= tables
        assert migrate.schema_differences(engine) == []
        index_names = {ix["name"] for ix in inspect(engine).get_indexes("inspections")}
        assert {"ix_inspections_time", "ix_inspections_product_id_time", "ix_inspections_verdict_time"} <= index_names
        # a second start-up is a no-op
        assert migrate.upgrade(engine) == HEAD
        migrate.check_schema(engine)
    finally:
        engine.dispose()
    assert (tmp_path / DB_FILENAME).is_file()


def test_schema_comparison_notices_a_drift(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_inspections_verdict_time"))
        diffs = migrate.schema_differences(engine)
        assert [d[0] for d in diffs] == ["add_index"]
        assert diffs[0][1].name == "ix_inspections_verdict_time"
    finally:
        engine.dispose()


def test_downgrade_to_base_then_upgrade_again(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        migrate.upgrade(engine)
        cfg = migrate.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert migrate.schema_differences(engine) == []
    finally:
        engine.dispose()


def test_database_from_a_newer_station_is_refused(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(SchemaTooNewError, match="newer version of the station"):
            migrate.upgrade(engine)
        with pytest.raises(SchemaTooNewError):
            migrate.check_schema(engine)
    finally:
        engine.dispose()


def test_unmigrated_database_is_reported_too_old(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        with pytest.raises(SchemaTooOldError, match=f"needs {HEAD}"):
            migrate.check_schema(engine)
    finally:
        engine.dispose()


def test_foreign_database_without_version_is_refused(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE accounts (id INTEGER PRIMARY KEY)"))
        with pytest.raises(SchemaVersionError, match="not made by the station"):
            migrate.upgrade(engine)
        assert "products" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path, busy_timeout_ms=1234)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_data_dir_and_url_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DB_URL, raising=False)
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "from-env"))
    assert default_data_dir() == tmp_path / "from-env"
    assert default_data_dir(tmp_path / "arg") == tmp_path / "arg"  # the argument wins
    assert database_url() == f"sqlite:///{(tmp_path / 'from-env' / DB_FILENAME).as_posix()}"
    engine = make_engine()  # creates the data folder of the default SQLite file
    engine.dispose()
    assert (tmp_path / "from-env").is_dir()

    monkeypatch.delenv(ENV_DATA_DIR)
    assert default_data_dir().name == "inspection-station"  # per-user folder from platformdirs

    monkeypatch.setenv(ENV_DB_URL, "postgresql+psycopg://qa@db-host/station")
    assert database_url(data_dir=tmp_path) == "postgresql+psycopg://qa@db-host/station"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_migration_renders_for_postgresql_without_sqlite_only_types() -> None:
    """Offline (--sql) migration for PostgreSQL: proves the scripts use portable types only."""
    buffer = io.StringIO()
    cfg = migrate.alembic_config()
    cfg.output_buffer = buffer
    cfg.set_main_option("sqlalchemy.url", "postgresql://offline/station")
    command.upgrade(cfg, "head", sql=True)
    sql = buffer.getvalue()
    assert "CREATE TABLE inspections" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "JSON" in sql
    assert "CREATE INDEX ix_inspections_product_id_time ON inspections (product_id, time)" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
    assert "CREATE TABLE audit_events" in sql and "CREATE TABLE users" in sql
    assert "UPDATE alembic_version SET version_num='0002_users_audit' WHERE alembic_version.version_num = '0001'" in sql
    assert "TRIGGER" not in sql  # the append-only triggers are SQLite's
    assert "DATETIME" not in sql  # no SQLite-only spelling


def test_models_declare_only_portable_types() -> None:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    for table in Base.metadata.sorted_tables:
        CreateTable(table).compile(dialect=postgresql.dialect())  # raises on a type PostgreSQL lacks


def test_0002_follows_0001_and_is_named_for_the_next_migration() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0002_users_audit")
    assert script.down_revision == "0001"
    assert Path(script.path).name == "0002_users_audit.py"


def test_0003_adds_line_mode_provenance_and_old_rows_read_as_cold(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0003_line_mode")
    assert script.down_revision == "0002_users_audit"
    engine = make_engine(data_dir=tmp_path)
    try:
        migrate.upgrade(engine, "0002_users_audit")
        _insert_an_old_inspection(engine)
        assert migrate.upgrade(engine) == HEAD
        with engine.connect() as conn:
            assert conn.execute(text("SELECT mode, pool_size FROM inspections")).one() == ("cold", 0)
        assert migrate.schema_differences(engine) == []
    finally:
        engine.dispose()


def test_0004_adds_part_ids_and_the_outbox_and_old_rows_have_no_part_id(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0004_plant")
    assert script.down_revision == "0003_line_mode" and Path(script.path).name == "0004_plant.py"
    engine = make_engine(data_dir=tmp_path)
    try:
        migrate.upgrade(engine, "0003_line_mode")
        _insert_an_old_inspection(engine)
        assert migrate.upgrade(engine) == HEAD
        with engine.connect() as conn:
            assert conn.execute(text("SELECT part_id FROM inspections")).one() == (None,)
            assert conn.execute(text("SELECT count(*) FROM outbox_messages")).scalar() == 0
        assert migrate.schema_differences(engine) == []
        cfg = migrate.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003_line_mode")
        assert "outbox_messages" not in set(inspect(engine).get_table_names())
        assert "part_id" not in {c["name"] for c in inspect(engine).get_columns("inspections")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM inspections")).scalar() == 1
        assert migrate.upgrade(engine) == HEAD
    finally:
        engine.dispose()


def test_an_0001_database_with_data_upgrades_keeping_it(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        assert migrate.upgrade(engine, "0001") == "0001"
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO products (name, created_at, settings) VALUES ('widget', '2024-01-01 00:00:00', '{}')")
            )
        with pytest.raises(SchemaTooOldError, match=f"schema is 0001, this station needs {HEAD}"):
            migrate.check_schema(engine)
        assert migrate.upgrade(engine) == HEAD
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM products")).scalars().all() == ["widget"]
            assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 0
            triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        assert triggers == {"audit_events_no_update", "audit_events_no_delete"}
        assert migrate.schema_differences(engine) == []
    finally:
        engine.dispose()


def test_downgrade_to_0001_removes_only_the_new_tables(tmp_path: Path) -> None:
    engine = make_engine(data_dir=tmp_path)
    try:
        migrate.upgrade(engine)
        cfg = migrate.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        tables = set(inspect(engine).get_table_names())
        assert not tables & {"users", "audit_events", "reviews", "station_settings", "outbox_messages"}
        assert {"products", "reference_images", "inspections", "chat_messages"} <= tables
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")).scalar() == 0
        assert migrate.upgrade(engine) == HEAD
        assert migrate.schema_differences(engine) == []
    finally:
        engine.dispose()


def test_0005_adds_the_own_map_provenance_and_old_rows_read_as_shipped_features(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0005_own_map")
    assert script.down_revision == "0004_plant" and Path(script.path).name == "0005_own_map.py"
    engine = make_engine(data_dir=tmp_path)
    try:
        migrate.upgrade(engine, "0004_plant")
        _insert_an_old_inspection(engine)
        assert migrate.upgrade(engine) == HEAD
        with engine.connect() as conn:
            assert conn.execute(text("SELECT adapted_parts FROM inspections")).one() == (0,)
        assert migrate.schema_differences(engine) == []
        cfg = migrate.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004_plant")
        assert "adapted_parts" not in {c["name"] for c in inspect(engine).get_columns("inspections")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM inspections")).scalar() == 1
        assert migrate.upgrade(engine) == HEAD
    finally:
        engine.dispose()


def _insert_an_old_inspection(engine) -> None:
    """One product and one inspection row with the columns every revision since 0002 has."""
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO products (name, created_at, settings) VALUES ('w', '2024-01-01 00:00:00', '{}')")
        )
        conn.execute(
            text(
                "INSERT INTO inspections (time, product_id, station, operator, source, verdict, probability, score,"
                " threshold, threshold_overridden, calibration_id, encoder_id, model_ids, width, height, image_path,"
                " image_sha256, regions, timings, review_status) VALUES ('2024-01-01 00:00:00', 1, '', '', 'camera',"
                " 'PASS', 0.1, 0.2, 0.5, 0, '', '', '{}', 8, 8, 'a.png', 'x', '[]', '{}', 'none')"
            )
        )
