"""The one protocol every frame source follows, and the error a source raises when it is gone."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


class SourceError(Exception):
    """The source cannot be opened or stopped delivering frames; the message says which source and why."""


class NoFrameYet(Exception):
    """A triggered camera had no frame within its read timeout (no trigger came): not a loss, read again."""


@runtime_checkable
class FrameSource(Protocol):
    """A camera-like source of RGB uint8 frames (H x W x 3).

    ``open`` and ``read`` raise :class:`SourceError` when the source is missing or gone; the capture worker then
    reconnects with backoff. ``last_label`` (optional attribute) names the file the last frame came from.
    ``pace_fps`` is the rate the capture worker keeps for sources that do not block on
    their own (files, folders, the demo camera); ``None`` for real cameras and streams.
    """

    name: str
    kind: str  # what the database records as the inspection's source: camera, stream, file, folder, demo
    is_live: bool
    pace_fps: float | None

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...


def open_in_mode(source: FrameSource, mode: str) -> None:
    """Open ``source`` in a trigger mode (a TriggerMode value: "free-run", "software", "hardware"): set on sources that have one (the
    industrial cameras' optional ``set_trigger_mode``), ignored by the others."""
    prepare = getattr(source, "set_trigger_mode", None)
    if callable(prepare):
        prepare(mode)
    source.open()
