"""A part's frame goes into the image store while the model inspects it.

The store writes each file durably (PNG encoding, fsync of the file and its folder: ADR 0002), which on a small
cabinet PC costs tens of milliseconds. The frame is known as soon as it is acquired, so a thread of its own writes
it in parallel with the inference; recording after the verdict then only writes the heatmap and the row. A frame
whose file could not be written here is simply written by the recorder as before (nothing depends on this)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from line.capture.mailbox import Frame

log = logging.getLogger(__name__)

KEEP = 8  # frames whose file is kept ready (a failed part's entry is dropped when newer ones come)
WAIT_S = 10.0


class FrameFiles:
    def __init__(self, store: Any) -> None:  # db.image_store.ImageStore
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="line-frame-files")
        self._futures: OrderedDict[int, tuple[Frame, Future[Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, frame: Frame) -> None:
        """Begin writing the frame's file."""
        future = self._pool.submit(self._store.put_png, frame.image)
        with self._lock:
            self._futures[id(frame)] = (frame, future)  # the frame is kept: its id stays its own
            while len(self._futures) > KEEP:
                self._futures.popitem(last=False)

    def take(self, frame: Frame) -> Any:
        """The frame's StoredFile once written, else None (the caller stores the pixels itself)."""
        with self._lock:
            entry = self._futures.pop(id(frame), None)
        if entry is None or entry[0] is not frame:
            return None
        try:
            return entry[1].result(WAIT_S)
        except Exception as exc:  # noqa: BLE001 - a disk problem shows again, with its message, when recording
            log.debug("frame file not written ahead: %s", exc)
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
