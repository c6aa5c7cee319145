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
        ("db", QT + ("desktop", "line")),
        ("line", QT + ("desktop",)),
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
