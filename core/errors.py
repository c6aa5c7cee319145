"""Typed errors of the inspection library.

Every error carries a message meant for a person: it names the file or the setting and says what to do.
The CLI prints ``str(error)`` on one line and exits non-zero; the desktop shows it in the window.
"""

from __future__ import annotations


class InspectionError(Exception):
    """Base class: something the operator or engineer can fix."""


class ImageReadError(InspectionError):
    """An image file is missing, unreadable, truncated, empty or of an unsupported kind."""


class ReferenceError_(InspectionError):
    """The normal references are missing, empty or unusable."""


class NoReferencesError(ReferenceError_):
    """The product has no normal reference at all: one good part must be added before it can be inspected."""


class ModelLoadError(InspectionError):
    """Model weights are missing or do not match the architecture."""


class Cancelled(InspectionError):
    """Long work (a product build, a reference preview) stopped because someone asked it to: not a failure to
    report, only to stop on. Callers test the type, never the message."""


class CalibrationError(InspectionError):
    """The automatic verdict could not be calibrated from the references."""


class DatasetError(InspectionError):
    """An evaluation folder does not follow the expected layout."""


# Public name without the trailing underscore (ReferenceError is a Python builtin).
ReferencesError = ReferenceError_

__all__ = [
    "CalibrationError",
    "Cancelled",
    "DatasetError",
    "ImageReadError",
    "InspectionError",
    "ModelLoadError",
    "NoReferencesError",
    "ReferencesError",
]
