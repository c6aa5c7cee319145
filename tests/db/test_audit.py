"""The audit trail: hash chain, append-only triggers, and tampering with any column of any row, deleting any row or
inserting one is found by verify_chain() and by `main.py audit verify`."""

from __future__ import annotations

import io
import itertools
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

import main as main_module
from db.audit import GENESIS_HASH, HASHED_FIELDS, row_hash
from db.engine import DB_FILENAME
from db.guarded import GuardedDatabase
from db.records import HistoryFilter
from db.repository import Database

COLUMNS = (*HASHED_FIELDS, "hash")


pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


def build_trail(data_dir: Path, frame) -> int:
    """A trail with every kind of value: NULL and non-NULL before/after/reason, several actors. Returns its length."""
    with Database.open(data_dir) as database:
        g = GuardedDatabase(database)
        admin = g.users.add(None, "root", "admin", "admin-password")
        eng = g.users.add(admin, "eve", "engineer", "engineer-password")
        assert g.users.authenticate("eve", "guessed-Pa55word").status.value == "bad_credentials"
        assert g.users.authenticate("eve", "engineer-password").ok
        product = g.create_product(eng, "widget", references=[frame(1)], calibration={"id": "c1", "threshold": 0.4})
        g.set_threshold_override(eng, product.id, 0.55, reason="new lighting, ticket 42")
        insp = g.record_inspection(
            eng,
            product_id=product.id,
            image=frame(2),
            result={"verdict": "FAIL", "probability": 0.9, "score": 0.8, "threshold": 0.55},
        )
        g.review(eng, insp.id, "false_alarm", reason="scratch on the fixture, not the part")
        g.set_station_setting(admin, "idle_logout_s", 300)
        g.export_history_csv(eng, HistoryFilter(), data_dir.parent / "export.csv")
        assert g.audit.verify() is None
        return g.audit.count()


@pytest.fixture
def trail(tmp_path: Path, make_frame) -> tuple[Path, int]:
    data_dir = tmp_path / "data"
    return data_dir, build_trail(data_dir, make_frame)


@pytest.fixture
def raw(trail) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the trail, triggers dropped (what someone editing the file would do)."""
    conn = sqlite3.connect(trail[0] / DB_FILENAME)
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("DROP TRIGGER audit_events_no_delete")
    conn.commit()
    yield conn
    conn.close()


def verify(data_dir: Path) -> int | None:
    with Database.open(data_dir) as database:
        return GuardedDatabase(database).audit.verify_chain()


def cli_verify(data_dir: Path, capsys) -> tuple[int, str]:
    rc = main_module.main(["audit", "verify", "--data-dir", str(data_dir)])
    return rc, capsys.readouterr().out


def rows(conn: sqlite3.Connection) -> list[dict]:
    cur = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_events ORDER BY id")
    return [dict(zip(COLUMNS, r, strict=False)) for r in cur.fetchall()]


def tampered_value(column: str, row: dict):
    return {
        "id": row["id"] + 10_000,
        "at": "2001-02-03 04:05:06.000000",
        "actor": (row["actor"] or "") + "x",
        "action": (row["action"] or "") + "x",
        "target": (row["target"] or "") + "x",
        "before": '{"tampered": true}',
        "after": '{"tampered": true}',
        "reason": "tampered",
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }[column]


def test_an_untouched_trail_verifies_and_links_every_row(trail, capsys) -> None:
    data_dir, n = trail
    assert n == 11
    assert verify(data_dir) is None
    rc, out = cli_verify(data_dir, capsys)
    assert rc == 0 and f"intact: {n} events, head #{n}" in out
    conn = sqlite3.connect(data_dir / DB_FILENAME)
    try:
        chain = rows(conn)
    finally:
        conn.close()
    assert chain[0]["prev_hash"] == GENESIS_HASH
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(chain))
    assert len({r["hash"] for r in chain}) == n


def test_the_trail_refuses_update_and_delete(trail) -> None:
    conn = sqlite3.connect(trail[0] / DB_FILENAME)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_events SET reason = 'x' WHERE id = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_events WHERE id = 2")
    finally:
        conn.close()
    assert verify(trail[0]) is None


@pytest.mark.parametrize("column", COLUMNS)
def test_changing_any_column_of_any_row_is_detected(trail, raw, column: str) -> None:
    data_dir, n = trail
    original = rows(raw)
    for row in original:
        new = tampered_value(column, row)
        raw.execute(f"UPDATE audit_events SET {column} = ? WHERE id = ?", (new, row["id"]))
        raw.commit()
        found = verify(data_dir)
        if column == "id":
            # the row moved to the end: the next row no longer links to its predecessor (or, for the last row,
            # the moved row's hash no longer matches its content)
            expected = row["id"] + 1 if row["id"] < n else new
        else:
            expected = row["id"]
        assert found == expected, f"{column} of row #{row['id']}"
        where = new if column == "id" else row["id"]
        raw.execute(f"UPDATE audit_events SET {column} = ? WHERE id = ?", (row[column], where))
        raw.commit()
        assert verify(data_dir) is None  # restored exactly: intact again
    assert rows(raw) == original


@pytest.mark.parametrize("column", COLUMNS)
def test_audit_verify_names_the_changed_row(trail, raw, column: str, capsys) -> None:
    data_dir, _ = trail
    row = rows(raw)[3]
    raw.execute(f"UPDATE audit_events SET {column} = ? WHERE id = ?", (tampered_value(column, row), row["id"]))
    raw.commit()
    rc, out = cli_verify(data_dir, capsys)
    assert rc == 1
    assert f"BROKEN at row #{row['id'] + (1 if column == 'id' else 0)}" in out


def test_deleting_any_row_is_detected(trail, raw, capsys) -> None:
    data_dir, n = trail
    original = rows(raw)
    for row in original:
        raw.execute("DELETE FROM audit_events WHERE id = ?", (row["id"],))
        raw.commit()
        # a deleted row breaks the link of the row after it; a deleted last row leaves the counter ahead
        assert verify(data_dir) == (row["id"] + 1 if row["id"] < n else row["id"]), f"row #{row['id']}"
        rc, out = cli_verify(data_dir, capsys)
        assert rc == 1 and "BROKEN at row #" in out
        raw.execute(
            f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            tuple(row[c] for c in COLUMNS),
        )
        raw.commit()
        assert verify(data_dir) is None
    raw.execute("DELETE FROM audit_events")
    raw.commit()
    assert verify(data_dir) == 1  # an emptied trail is not an intact one


def _insert(raw: sqlite3.Connection, values: dict) -> None:
    raw.execute(
        f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        tuple(values[c] for c in COLUMNS),
    )
    raw.commit()


def test_inserting_a_row_is_detected(trail, raw) -> None:
    data_dir, n = trail
    last = rows(raw)[-1]
    forged = {
        "id": n + 1,
        "at": "2030-01-01 00:00:00.000000",
        "actor": "mallory",
        "action": "threshold_override",
        "target": "product:widget",
        "before": "null",
        "after": '{"threshold_override": 1000}',
        "reason": "x",
        "prev_hash": last["hash"],
        "hash": "0" * 64,
    }
    _insert(raw, forged)  # at the end, with a made-up hash
    assert verify(data_dir) == n + 1
    raw.execute("DELETE FROM audit_events WHERE id = ?", (n + 1,))
    raw.commit()
    raw.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit_events'", (n,))
    raw.commit()
    assert verify(data_dir) is None

    # in front of the first row, hashed "correctly" from the genesis: the old first row no longer links to it
    from datetime import datetime

    front = dict(forged, id=0, prev_hash=GENESIS_HASH)
    front["hash"] = row_hash(
        {**front, "at": datetime(2030, 1, 1, tzinfo=UTC), "before": None, "after": {"threshold_override": 1000}}
    )
    _insert(raw, front)
    assert verify(data_dir) == 1

    # between two rows (ids renumbered to make room): the renumbered rows' hashes no longer match
    raw.execute("DELETE FROM audit_events WHERE id = 0")
    raw.commit()
    raw.execute("UPDATE audit_events SET id = id + 1000 WHERE id > 5")
    raw.execute("UPDATE audit_events SET id = id - 999 WHERE id > 1000")
    raw.commit()
    _insert(raw, dict(forged, id=6, prev_hash=rows(raw)[4]["hash"]))
    assert verify(data_dir) == 6


def test_unreadable_values_mark_their_row(trail, raw) -> None:
    original = rows(raw)[3]["at"]
    raw.execute("UPDATE audit_events SET at = 'yesterday' WHERE id = 4")
    raw.commit()
    assert verify(trail[0]) == 4
    raw.execute("UPDATE audit_events SET at = ? WHERE id = 4", (original,))
    raw.execute("UPDATE audit_events SET after = '{not json' WHERE id = 5")
    raw.commit()
    assert verify(trail[0]) == 5


def test_two_stations_appending_at_once_keep_one_chain(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Database.open(data_dir) as database:
        GuardedDatabase(database).users.add(None, "root", "admin", "admin-password")
    errors: list[BaseException] = []

    def station(k: int) -> None:
        try:
            with Database.open(data_dir) as database:
                g = GuardedDatabase(database)
                for i in range(15):
                    g.users.authenticate(f"nobody-{k}-{i}", "whatever-password")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=station, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Database.open(data_dir) as database:
        trail = GuardedDatabase(database).audit
        assert trail.count() == 1 + 45
        assert trail.verify() is None


def test_no_password_reaches_the_database(trail) -> None:
    files = sorted(trail[0].glob(DB_FILENAME + "*"))  # the database and any WAL left
    assert files
    for path in files:
        content = path.read_bytes()
        for secret in (b"admin-password", b"engineer-password", b"guessed-Pa55word"):
            assert secret not in content, f"{secret!r} in {path.name}"


def test_audit_list_filters(trail) -> None:
    with Database.open(trail[0]) as database:
        audit = GuardedDatabase(database).audit
        overrides = audit.list(action="threshold_override")
        assert len(overrides) == 1
        (event,) = overrides
        assert event.actor == "eve" and event.reason == "new lighting, ticket 42"
        assert event.before["threshold_override"] is None and event.after["threshold_override"] == 0.55
        assert {e.action for e in audit.list(target="user:")} >= {"user_added", "login", "login_failed"}
        assert [e.id for e in audit.list(newest_first=False, limit=3)] == [1, 2, 3]


def test_main_reads_passwords_from_stdin_not_argv(trail, monkeypatch, capsys) -> None:
    # sanity of the test helpers used by the CLI tests: stdin is a stream, argv carries no password
    monkeypatch.setattr("sys.stdin", io.StringIO("admin-password\n"))
    rc = main_module.main(
        ["users", "disable", "eve", "--user", "root", "--password-stdin", "--data-dir", str(trail[0])]
    )
    assert rc == 0 and "eve is disabled" in capsys.readouterr().out
    assert verify(trail[0]) is None
