"""Import rules: core/ has no Qt and no SQLAlchemy; db/ has no Qt; line/ has no Qt and never imports desktop/;
neither core/ nor db/ imports line/; main.py stays a thin dispatcher."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6")
SQL = ("sqlalchemy", "alembic")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "package, banned",
    [
        ("core", QT + SQL + ("desktop", "db", "line")),
        ("db", (*QT, "desktop", "line")),
        ("line", (*QT, "desktop")),
    ],
)
def test_layer_imports(package, banned):
    offenders = []
    for py in (ROOT / package).rglob("*.py"):
        bad = imported_modules(py) & set(banned)
        if bad:
            offenders.append(f"{py.relative_to(ROOT)}: {sorted(bad)}")
    assert not offenders, "layer rule broken:\n" + "\n".join(offenders)


def test_main_is_thin():
    src = (ROOT / "main.py").read_text()
    assert len(src.splitlines()) < 80
    assert imported_modules(ROOT / "main.py") <= {"__future__", "os", "sys", "importlib"}


def imported_dotted(path: Path) -> set[str]:
    """Every absolute module name imported by ``path``, in full (``desktop.workers.db_task``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


DESKTOP_TOP_LEVEL = {"__init__.py", "app.py", "main_window.py"}


def test_desktop_folders_name_what_they_hold():
    """desktop/ holds the app and its window; everything else lives in a folder that says what it is."""
    loose = sorted(p.name for p in (ROOT / "desktop").glob("*.py") if p.name not in DESKTOP_TOP_LEVEL)
    assert not loose, f"put these in desktop/widgets, dialogs, workers, views, controllers or qt: {loose}"


@pytest.mark.parametrize(
    "folder, banned",
    [
        # a widget shows what it is given: it never reaches for a worker, a controller, the database or the line
        ("desktop/widgets", ("desktop.workers", "desktop.controllers", "desktop.dialogs", "desktop.views", "db")),
        # a worker runs off the Qt thread and knows nothing of what shows its results
        ("desktop/workers", ("desktop.widgets", "desktop.dialogs", "desktop.views", "desktop.controllers")),
        (
            "desktop/qt",
            ("desktop.widgets", "desktop.dialogs", "desktop.views", "desktop.controllers", "desktop.workers"),
        ),
    ],
)
def test_desktop_layering(folder, banned):
    offenders = []
    for py in (ROOT / folder).rglob("*.py"):
        bad = {m for m in imported_dotted(py) for b in banned if m == b or m.startswith(b + ".")}
        if bad:
            offenders.append(f"{py.relative_to(ROOT)}: {sorted(bad)}")
    assert not offenders, "desktop layering broken:\n" + "\n".join(offenders)
