"""The window's one idiom for short background calls: answers on the owner's thread, in order, droppable."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from desktop.workers.background_tasks import BackgroundTasks


def test_answers_come_back_on_the_owner_thread_in_order(qtbot):
    tasks = BackgroundTasks(threads=1)
    seen: list[tuple[int, bool]] = []
    gui = QThread.currentThread()
    workers: set[int] = set()

    def work(i: int) -> int:
        workers.add(threading.get_ident())
        return i

    for i in range(5):
        tasks.run(lambda i=i: work(i), lambda r: seen.append((r, QThread.currentThread() is gui)))
    qtbot.waitUntil(lambda: len(seen) == 5, timeout=5000)
    assert seen == [(i, True) for i in range(5)]
    assert threading.get_ident() not in workers and not tasks.busy


def test_an_error_reaches_on_error_and_the_next_call_still_runs(qtbot):
    tasks = BackgroundTasks(threads=1)
    errors: list[Exception] = []
    done: list[str] = []

    def boom() -> None:
        raise OSError("database is locked")

    tasks.run(boom, done.append, errors.append)
    tasks.run(lambda: "next", done.append, errors.append)
    qtbot.waitUntil(lambda: done == ["next"], timeout=5000)
    assert [str(e) for e in errors] == ["database is locked"]


def test_cleared_calls_never_answer_and_busy_ends(qtbot):
    tasks = BackgroundTasks(threads=1)
    gate = threading.Event()
    answers: list[str] = []
    busy: list[bool] = []
    tasks.busyChanged.connect(busy.append)
    tasks.run(lambda: gate.wait(5) and "running", answers.append)
    for i in range(3):
        tasks.run(lambda i=i: f"queued {i}", answers.append)
    qtbot.waitUntil(lambda: len(tasks._running) == 1, timeout=5000)
    tasks.clear_queued()
    gate.set()
    qtbot.waitUntil(lambda: not tasks.busy, timeout=5000)
    assert answers == ["running"] and busy == [True, False]
