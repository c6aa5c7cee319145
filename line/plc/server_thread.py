"""An asyncio event loop in a thread of its own, for the PLC servers (asyncua, pymodbus are asyncio libraries).

``start`` returns once the server listens, or raises PlcServerError (port already taken, bad endpoint) within the
timeout: nothing hangs, and the message says what to change."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)


class PlcServerError(Exception):
    """A PLC server could not start; the message says which and why."""


class LoopThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
            self._ready.wait(5.0)
        assert self.loop is not None
        return self.loop

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            finally:
                loop.close()

    def run(self, coro: Awaitable[Any], timeout_s: float) -> Any:
        """Run ``coro`` in the loop and wait for its result (re-raising its exception)."""
        assert self.loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout_s)

    def call_soon(self, callback: Callable[[], Any]) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(callback)
            except RuntimeError:  # the loop closed in between
                pass

    def stop(self, timeout_s: float = 5.0) -> None:
        loop, thread = self.loop, self._thread
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout_s)
        self.loop, self._thread = None, None
