"""Work-arounds for defects of the Qt binding that the station cannot live with.

PySide6 6.12.0 on Python 3.11: every ``SignalInstance.emit()`` returns ``True`` without taking a reference to it,
so each emit costs one reference of ``True``. Python < 3.12 does not make ``True`` immortal: once its count
reaches zero the interpreter aborts with "Fatal Python error: bool_dealloc: deallocating True or False". The
station emits a few signals per camera frame, so the window died after about 16 minutes of Auto mode on the demo
camera (the soak of tools/faults, issue 15). ``install()`` measures the defect on one private signal and, only
where it is present, wraps ``emit`` to give back the missing reference.
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


def install() -> bool:
    """Patch ``SignalInstance.emit`` where it leaks (idempotent). Returns whether the patch is in place."""
    global _installed
    if _installed:
        return True
    if sys.version_info >= (3, 12):  # True is immortal there: the leak is harmless
        return False
    from PySide6.QtCore import SignalInstance

    if not emit_leaks_true():
        return False
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
