"""The window keeps every open problem, newest first; each clears itself when its cause is resolved."""

from __future__ import annotations

from desktop.main_window import MainWindow
from desktop.widgets.problem_list import MAX_SHOWN
from line.problems import Problem, ProblemList, Severity


def test_a_camera_warning_does_not_hide_an_unsaved_inspection(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show_problem("database", "1 inspection waiting to be saved: the database is busy.", Severity.ERROR)
    window.show_problem("camera", "Camera 7 disconnected - reconnecting in 2 s.", Severity.WARNING)
    assert window.problem_keys() == ["camera", "database"]  # newest first, both listed
    rows = window.problems.rows()
    assert [r.text() for r in rows] == [
        "Camera 7 disconnected - reconnecting in 2 s.",
        "1 inspection waiting to be saved: the database is busy.",
    ]
    assert [r.level for r in rows] == [Severity.WARNING, Severity.ERROR]
    window.clear_problem("camera")  # the camera is back: its warning goes, the error stays
    assert window.problem_keys() == ["database"] and window.problems.text().startswith("1 inspection")
    window.clear_problem("database")
    assert window.problem_keys() == [] and window.problems.isHidden()


def test_the_same_key_replaces_its_message_and_moves_to_the_top(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show_problem("camera", "Camera 7 disconnected.", Severity.WARNING)
    window.show_problem("model", "The model did not load.", Severity.ERROR)
    window.show_problem("camera", "Camera 7 is not connected - retrying.", Severity.WARNING)
    assert window.problem_keys() == ["camera", "model"]
    assert window.problems.texts() == ["Camera 7 is not connected - retrying.", "The model did not load."]


def test_each_row_has_its_own_action_and_dismiss(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    calls: list[str] = []
    window.show_problem("product", "Add a reference.", Severity.ERROR, "Open products…", lambda: calls.append("p"))
    window.show_problem("database", "Not saved.", Severity.ERROR, "Retry saving", lambda: calls.append("d"))
    top, second = window.problems.rows()
    assert top.retry_button.text() == "Retry saving" and second.retry_button.text() == "Open products…"
    second.retry_button.click()
    top.retry_button.click()
    assert calls == ["p", "d"]
    second.close_button.click()  # dismissed by the operator: resolved until raised again
    assert window.problem_keys() == ["database"]


def test_many_problems_show_the_newest_and_count_the_rest(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    for i in range(MAX_SHOWN + 3):
        window.show_problem(f"k{i}", f"problem {i}", Severity.WARNING)
    assert len(window.problems.rows()) == MAX_SHOWN
    assert window.problems.rows()[0].text() == f"problem {MAX_SHOWN + 2}"
    more = window.problems.findChild(type(window.problems._more), "problemListMore")
    assert more is not None and more.text() == "… and 3 older problems"


def test_problem_list_is_qt_free_and_thread_safe():
    problems = ProblemList()
    seen: list[int] = []
    problems.subscribe(lambda: seen.append(len(problems)))
    problems.raise_problem(Problem("a", "first", Severity.INFO))
    problems.raise_problem(Problem("b", "second", Severity.ERROR))
    assert problems.worst() is Severity.ERROR and problems.newest() == Problem("b", "second", Severity.ERROR)
    assert problems.clear("a") and not problems.clear("a")
    assert seen == [1, 2, 1]
