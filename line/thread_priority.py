"""Lower the CPU priority of the calling thread, so that the station's inspection comes first.

On Linux a thread has its own nice value (``setpriority`` on its thread id), which the threads it starts inherit.
Raising it needs no privileges. Elsewhere this does nothing and says so in the log, once per thread.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def lower_this_thread(by: int) -> bool:
    """Add ``by`` to the calling thread's nice value (Linux); True when it was changed."""
    if by <= 0:
        return False
    if not sys.platform.startswith("linux"):
        log.debug("thread priorities are not changed on %s", sys.platform)
        return False
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + by))
    except OSError as exc:
        log.info("the priority of thread %s was not lowered: %s", threading.current_thread().name, exc)
        return False
    return True


def this_thread_nice() -> int | None:
    """The calling thread's nice value (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
