"""Checked by mypy (pyproject.toml [tool.mypy] files), never run: the seams between threads are protocols, and
both the real implementation and the tests' fake must satisfy them, so a change on one side fails the static
checks instead of a run on the line."""

from __future__ import annotations

from core.inspector import Inspector
from core.protocols import InspectorProtocol
from tests.station_fakes import FakeInspector


def _real(inspector: Inspector) -> InspectorProtocol:
    return inspector


def _fake(inspector: FakeInspector) -> InspectorProtocol:
    return inspector
