"""`main.py users ...`, `main.py audit verify` and `main.py product create|list` with a temporary data folder.

Most run main.main(argv) in this process with stdin replaced; one runs main.py as a subprocess, as a plant would.
`product create` loads the real encoder, so it runs once."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import main as main_module
from db.engine import DB_FILENAME
from db.guarded import GuardedDatabase
from db.repository import Database

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys, data_dir: Path):
    """cli(*argv, stdin="...") -> (exit status, stdout, stderr), always with --data-dir of the test."""

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        rc = main_module.main([*argv, "--data-dir", str(data_dir)])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def audit_actions(data_dir: Path) -> list[tuple[str, str]]:
    with Database.open(data_dir) as database:
        return [(e.action, e.actor) for e in GuardedDatabase(database).audit.list(newest_first=False)]


def test_users_first_admin_then_add_list_disable_passwd(cli, data_dir: Path) -> None:
    rc, out, err = cli("users", "list")
    assert rc == 0 and "no users yet" in out
    rc, out, err = cli("users", "add", "anna", "--role", "operator", "--password-stdin", stdin="operator-password\n")
    assert rc == 3 and "first user of the station must be an admin" in err
    rc, out, err = cli("users", "add", "root", "--password-stdin", stdin="admin-password\n")  # role defaults to admin
    assert rc == 0 and "added root (admin), the station's first user" in out
    rc, out, err = cli("users", "add", "eve", "--password-stdin", stdin="admin-password\nengineer-password\n")
    assert rc == 2 and "--role" in err
    rc, out, err = cli("users", "add", "eve", "--role", "engineer", "--password-stdin", stdin="engineer-password\n")
    assert rc == 2 and "--user NAME" in err  # users exist: somebody has to act
    rc, out, err = cli(
        "users",
        "add",
        "eve",
        "--role",
        "engineer",
        "--user",
        "root",
        "--password-stdin",
        stdin="admin-password\nengineer-password\n",
    )
    assert rc == 0 and "added eve (engineer)" in out
    rc, out, err = cli(
        "users",
        "add",
        "anna",
        "--role",
        "operator",
        "--user",
        "eve",
        "--password-stdin",
        stdin="engineer-password\noperator-password\n",
    )
    assert rc == 3 and "may not manage users" in err
    rc, out, err = cli(
        "users",
        "add",
        "anna",
        "--role",
        "operator",
        "--user",
        "root",
        "--password-stdin",
        stdin="wrong-password\noperator-password\n",
    )
    assert rc == 3 and "Wrong name or password" in err
    rc, out, err = cli(
        "users", "add", "plc", "--role", "line", "--user", "root", "--password-stdin", stdin="admin-password\nshort\n"
    )
    assert rc == 1 and "at least 8" in err
    rc, out, err = cli(
        "users",
        "add",
        "plc",
        "--role",
        "line",
        "--user",
        "root",
        "--password-stdin",
        stdin="admin-password\nline-password\n",
    )
    assert rc == 0
    rc, out, err = cli("users", "list")
    assert rc == 0
    assert [ln.split("\t")[:3] for ln in out.splitlines()] == [
        ["eve", "engineer", "enabled"],
        ["plc", "line", "enabled"],
        ["root", "admin", "enabled"],
    ]

    rc, out, err = cli("users", "disable", "plc", "--user", "root", "--password-stdin", stdin="admin-password\n")
    assert rc == 0 and "plc is disabled" in out
    rc, out, err = cli("users", "disable", "root", "--user", "root", "--password-stdin", stdin="admin-password\n")
    assert rc == 1 and "only enabled admin" in err
    rc, out, err = cli("users", "passwd", "eve", "--password-stdin", stdin="engineer-password\nnew-engineer-password\n")
    assert rc == 0 and "password of eve changed" in out  # her own, with the current password first
    rc, out, err = cli(
        "users", "passwd", "eve", "--user", "root", "--password-stdin", stdin="admin-password\nadmin-set-password\n"
    )
    assert rc == 0
    rc, out, err = cli("users", "enable", "plc", "--user", "eve", "--password-stdin", stdin="admin-set-password\n")
    assert rc == 3
    rc, out, err = cli("audit", "verify")
    assert rc == 0 and "audit trail intact" in out

    actions = audit_actions(data_dir)
    assert ("user_added", "first-run set-up") in actions and ("user_disabled", "root") in actions
    assert actions.count(("password_changed", "eve")) == 1 and ("password_changed", "root") in actions
    assert ("login_failed", "root") in actions and ("logout", "root") in actions
    text = b"".join(p.read_bytes() for p in data_dir.glob(DB_FILENAME + "*"))
    for secret in (b"admin-password", b"engineer-password", b"new-engineer-password", b"line-password"):
        assert secret not in text


def test_users_role_and_the_station_settings_headless(cli, data_dir: Path) -> None:
    admin = "admin-password\n"
    assert cli("users", "add", "root", "--password-stdin", stdin=admin)[0] == 0
    add = ("users", "add", "anna", "--role", "operator", "--user", "root", "--password-stdin")
    assert cli(*add, stdin=admin + "operator-password\n")[0] == 0
    rc, out, err = cli("users", "role", "anna", "--role", "engineer", "--user", "root", "--password-stdin", stdin=admin)
    assert rc == 0 and "anna is now engineer" in out
    rc, out, err = cli("settings", "list")
    assert rc == 0 and [ln.split("\t")[:2] for ln in out.splitlines()] == [
        ["idle_logout_s", "600"],
        ["threshold_guard_share", "0.1"],
    ]
    as_anna = ("--user", "anna", "--password-stdin")
    rc, out, err = cli("settings", "set", "idle_logout_s", "120", *as_anna, stdin="operator-password\n")
    assert rc == 3 and "may not" in err  # an engineer does not change the station settings
    rc, out, err = cli("settings", "set", "idle_logout_s", "soon", "--user", "root", "--password-stdin", stdin=admin)
    assert rc == 2 and "must be a number" in err
    as_root = ("--user", "root", "--password-stdin")
    rc, out, err = cli("settings", "set", "threshold_guard_share", "2", *as_root, stdin=admin)
    assert rc == 1 and "guard share" in err  # checked by the database layer: 0 to 1
    assert cli("settings", "set", "idle_logout_s", "120", *as_root, stdin=admin)[0] == 0
    assert cli("settings", "set", "threshold_guard_share", "0.05", *as_root, stdin=admin)[0] == 0
    rc, out, err = cli("settings", "list")
    assert [ln.split("\t")[1] for ln in out.splitlines()] == ["120", "0.05"]
    actions = audit_actions(data_dir)
    assert ("user_role_changed", "root") in actions and actions.count(("setting_changed", "root")) == 2


def test_audit_verify_fails_naming_the_row(cli, data_dir: Path) -> None:
    assert cli("users", "add", "root", "--password-stdin", stdin="admin-password\n")[0] == 0
    assert cli("users", "disable", "ghost", "--user", "root", "--password-stdin", stdin="admin-password\n")[0] == 1
    rc, out, _ = cli("audit", "verify")
    assert rc == 0 and "intact: 3 events" in out  # user_added, login, logout
    conn = sqlite3.connect(data_dir / DB_FILENAME)
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    conn.commit()
    conn.close()
    rc, out, _ = cli("audit", "verify")
    assert rc == 1 and out.startswith("audit trail BROKEN at row #2:")


def test_product_commands_refuse_before_any_work(cli, data_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(good)
    rc, out, err = cli("product", "create", "widget", "--ref", str(good))
    assert rc == 3 and "no users yet" in err
    cli("users", "add", "root", "--password-stdin", stdin="admin-password\n")
    cli(
        "users",
        "add",
        "anna",
        "--role",
        "operator",
        "--user",
        "root",
        "--password-stdin",
        stdin="admin-password\noperator-password\n",
    )
    rc, out, err = cli(
        "product",
        "create",
        "widget",
        "--ref",
        str(good),
        "--user",
        "anna",
        "--password-stdin",
        stdin="operator-password\n",
    )
    assert rc == 3 and "may not create, change, recalibrate or delete products" in err
    rc, out, err = cli("product", "create", "widget", "--user", "root", "--password-stdin", stdin="admin-password\n")
    assert rc == 2 and "no reference images" in err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    rc, out, err = cli(
        "product",
        "create",
        "widget",
        "--ref",
        str(good),
        "--ref",
        str(broken),
        "--user",
        "root",
        "--password-stdin",
        stdin="admin-password\n",
    )
    assert rc == 1 and "broken.png" in err and len(err.strip().splitlines()) == 1
    rc, out, err = cli("product", "list")
    assert rc == 0 and "no products yet" in out
    assert not any(a.startswith("product") for a, _ in audit_actions(data_dir))


def _reference_images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    y, x = np.indices((96, 96))
    base = ((x + y) % 32 * 8).astype(np.int16)
    paths = []
    for i in range(2):
        img = np.clip(np.dstack([base, base, base]) + rng.integers(-5, 6, (96, 96, 3)), 0, 255).astype(np.uint8)
        path = folder / f"good-{i}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def test_product_create_builds_calibrates_stores_and_audits(cli, data_dir: Path, tmp_path: Path) -> None:
    from core.imageio import check_array
    from core.memory import image_hash
    from core.product import ProductModel
    from db.cli.product_cmd import model_dir

    refs = _reference_images(tmp_path)
    cli("users", "add", "root", "--password-stdin", stdin="admin-password\n")
    cli(
        "users",
        "add",
        "eve",
        "--role",
        "engineer",
        "--user",
        "root",
        "--password-stdin",
        stdin="admin-password\nengineer-password\n",
    )
    rc, out, err = cli(
        "product",
        "create",
        "widget",
        "--ref",
        str(refs[0]),
        "--ref",
        str(refs[1]),
        "--user",
        "eve",
        "--password-stdin",
        stdin="engineer-password\n",
    )
    assert rc == 0, err
    assert "created product widget (#1) with 2 references, threshold" in out
    rc, out, err = cli(
        "product",
        "create",
        "Widget",
        "--ref",
        str(refs[0]),
        "--user",
        "eve",
        "--password-stdin",
        stdin="engineer-password\n",
    )
    assert rc == 1 and "already exists" in err
    rc, out, _ = cli("product", "list")
    assert rc == 0 and out.startswith("1\twidget\t2 references\tthreshold ")

    with Database.open(data_dir) as database:
        info = database.products.get("widget")
        arrays = database.references.load_arrays(info.id)
        names = [r.original_name for r in database.references.list(info.id)]
        trail = GuardedDatabase(database).audit
        events = [(e.action, e.actor) for e in trail.list(target="product:", newest_first=False)]
        assert trail.verify() is None
    assert names == ["good-0.png", "good-1.png"]
    assert info.calibrated_threshold is not None and info.calibration["threshold"] == info.calibrated_threshold
    assert events == [
        ("product_created", "eve"),
        ("reference_added", "eve"),
        ("reference_added", "eve"),
        ("product_recalibrated", "eve"),
    ]
    saved = ProductModel.load(model_dir(data_dir, info.id))  # where the station looks: it will not rebuild
    assert saved.reference_hashes == tuple(image_hash(check_array(a)) for a in arrays)
    assert saved.calibration.to_dict() == info.calibration


def test_main_py_as_a_subprocess_reads_the_password_from_stdin(tmp_path: Path) -> None:
    env = dict(os.environ, INSPECTION_DATA_DIR=str(tmp_path / "from-env"))  # the default data folder
    env.pop("INSPECTION_DB_URL", None)

    def main_py(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )

    done = main_py("users", "add", "root", "--role", "admin", "--password-stdin", stdin="admin-password\n")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "from-env" / DB_FILENAME).is_file()
    done = main_py("audit", "verify")
    assert done.returncode == 0 and "intact: 1 events" in done.stdout
    assert "admin-password" not in done.stdout + done.stderr


def test_product_override_is_guarded_measured_and_audited(cli, data_dir: Path) -> None:
    """`product override`: a move that lets many recent failures pass needs a second engineer or admin."""
    from core.result import FAIL, InspectionResult

    g = GuardedDatabase(Database.open(data_dir))
    admin = g.users.add(None, "root", "admin", "admin-password")
    eve = g.users.add(admin, "eve", "engineer", "engineer-password")
    g.users.add(admin, "bob", "engineer", "bob-password")
    frame = np.zeros((32, 32, 3), np.uint8)
    product = g.create_product(eve, "widget", references=[frame], calibration={"id": "c1", "threshold": 0.5})
    for i in range(10):
        result = InspectionResult(FAIL, 0.9, 0.6 + 0.1 * i, 0.5, np.zeros((4, 4), np.float32), [], {}, "e", "c1")
        g.database.inspections.record(product_id=product.id, result=result, image=frame + i)
    g.database.close()
    rc, out, _err = cli("product", "override", "widget", "--threshold", "1000", "--dry-run")
    assert rc == 0 and "10 of the 10 recent recorded failures (100%) would now PASS" in out
    base = ["product", "override", "widget", "--reason", "new lighting", "--user", "eve", "--password-stdin"]
    rc, _out, err = cli(*base, "--threshold", "1000", stdin="engineer-password\n")
    assert rc == 3 and "10 of the 10 recent recorded failures (100%) would now PASS" in err and "--second" in err
    rc, _out, err = cli(
        *base,
        "--threshold",
        "1000",
        "--second",
        "bob",
        "--second-reason",
        "",
        stdin="engineer-password\nbob-password\n",
    )
    assert rc != 0 and "reason" in err.lower(), err
    rc, out, err = cli(
        *base,
        "--threshold",
        "1000",
        "--second",
        "bob",
        "--second-reason",
        "checked by hand",
        stdin="engineer-password\nbob-password\n",
    )
    assert rc == 0 and "threshold overridden to 1000 by eve" in out, err
    rc, out, _err = cli(*base, "--clear", stdin="engineer-password\n")
    assert rc == 0 and "override cleared" in out
    database = Database.open(data_dir)
    events = GuardedDatabase(database).audit.list(action="threshold_override")
    assert any((e.after or {}).get("confirmed_by") == "bob" for e in events)
    database.close()
