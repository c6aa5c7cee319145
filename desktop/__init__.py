"""The desktop station: the PySide6 face of the inspection library (live view, verdict, chat, history)."""

from desktop.qt import qt_compat as _qt_compat

_qt_compat.install()  # PySide6 6.12 + Python 3.11: each signal emit leaks a reference of True (see qt_compat)
