"""Work-arounds for defects of the Qt binding that the station cannot live with.

PySide6 6.12.0 on Python 3.11: every ``SignalInstance.emit()`` returns ``True`` without taking a reference to it,
so each emit costs one reference of ``True``. Python < 3.12 does not make ``True`` immortal: once its count
reaches zero the interpreter aborts with "Fatal Python error: bool_dealloc: deallocating True or False". The
station emits a few signals per camera frame, so the window died after about 16 minutes of Auto mode on the demo
camera (the soak of tools/faults, issue 15). ``install()`` measures the defect on one private signal and, only
where it is present, wraps ``emit`` to give back the missing reference.

The same binding returns ``None`` from every method that returns nothing (``QWidget.update``, ``QLabel.setText``,
``QAbstractItemModel.beginInsertRows`` ...) without a reference either: each such call costs one reference of
``None`` (measured: exactly -1 per call, issue 15). The window as a whole happened to gain more references of
``None`` per frame than it lost (+37 per frame of Auto), but a path that only makes such calls dies: the History
model's test of 3 000 pushes per 1 000-row bound aborted at exit with "Fatal Python error: none_dealloc", and
``beginResetModel``/``endResetModel`` in a loop abort a small process within 2 000 calls. There are too many such
methods to wrap, so where the defect is measured ``None`` is made immortal the way Python 3.12 makes it (PEP 683):
its reference count is raised by 2**60, which no loss of one per call can bring back to zero.
"""

from __future__ import annotations

import ctypes
import sys

_installed = False


def emit_leaks_true() -> bool:
    """True when one emit of a signal costs a reference of True (the defect described above)."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    return sys.getrefcount(True) - before <= -8


IMMORTAL_REFS = 1 << 60


def void_call_leaks_none() -> bool:
    """True when a call of a method that returns nothing costs a reference of None (the defect described above)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(8):
        probe.setObjectName("probe")
    return sys.getrefcount(None) - before <= -8


def make_none_immortal() -> bool:
    """Raise the reference count of None by ``IMMORTAL_REFS`` where the defect is present (Python < 3.12, release
    build: the count is the object's first field). Returns whether None is immortal now."""
    if sys.version_info >= (3, 12):
        return True  # immortal already
    if sys.getrefcount(None) >= IMMORTAL_REFS:
        return True
    if hasattr(sys, "gettotalrefcount") or not void_call_leaks_none():
        return False  # a debug build lays objects out differently; without the defect there is nothing to do
    before = sys.getrefcount(None)
    ctypes.c_ssize_t.from_address(id(None)).value += IMMORTAL_REFS
    return sys.getrefcount(None) - before == IMMORTAL_REFS


def make_bools_immortal() -> bool:
    """Raise the reference counts of True and False by ``IMMORTAL_REFS`` (Python < 3.12, release build), as Python
    3.12 makes them immortal. Called where the binding's emit leaks True: the same binding loses references of the
    two on paths other than emit too (a process that only drew the Statistics tab's plots, the statistics view's 11
    tests, aborted at exit with "bool_dealloc", the emit already patched); which call loses them was not found, so
    no loss of one per call may bring them to zero. Returns whether both are immortal now."""
    if sys.version_info >= (3, 12):
        return True
    if hasattr(sys, "gettotalrefcount"):
        return False
    for value in (True, False):
        if sys.getrefcount(value) < IMMORTAL_REFS:
            ctypes.c_ssize_t.from_address(id(value)).value += IMMORTAL_REFS
    return sys.getrefcount(True) >= IMMORTAL_REFS and sys.getrefcount(False) >= IMMORTAL_REFS


def install() -> bool:
    """Patch ``SignalInstance.emit`` where it leaks (idempotent). Returns whether the patch is in place."""
    global _installed
    if _installed:
        return True
    make_none_immortal()
    if sys.version_info >= (3, 12):  # True is immortal there: the leak is harmless
        return False
    from PySide6.QtCore import SignalInstance

    if not emit_leaks_true():
        return False
    make_bools_immortal()
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None

    def emit(self, *args):
        result = original(self, *args)
        if result is True:
            incref(True)  # the reference the binding forgot to take
        return result

    emit.__doc__ = original.__doc__
    SignalInstance.emit = emit
    _installed = True
    return True
