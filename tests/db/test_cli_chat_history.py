"""`main.py chat --product P`: a supervisor's chat about a product's history on a terminal (today against last
week, questions from the command line or stdin), answered with the database's exact figures."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import main as entry
from core.result import FAIL, PASS
from db.cli.chat_cmd import main as chat_main


def _history(database, make_result, make_frame) -> None:
    widget = database.products.create("widget").id
    other = database.products.create("bracket").id
    now = datetime.now().astimezone()
    today = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0, second=1, microsecond=0))
    last_week = now - timedelta(days=7)
    rows = [(widget, today, PASS)] * 3 + [(widget, today, FAIL)] + [(other, today, FAIL)] * 2
    rows += [(widget, last_week, PASS)] * 9 + [(widget, last_week, FAIL)]
    for i, (pid, when, verdict) in enumerate(rows):
        database.inspections.record(product_id=pid, result=make_result(verdict), image=make_frame(i), time=when)


def test_the_opening_and_the_questions_are_about_the_product(database, make_result, make_frame, tmp_path, capsys):
    _history(database, make_result, make_frame)
    data = str(tmp_path / "data")
    argv = ["chat", "--product", "widget", "--data-dir", data, "--question", "how many rejects today?", "--json"]
    argv += ["--question", "how many rejects on product bracket today?"]
    assert entry.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    opening, own, other = lines
    assert opening["question"] is None
    assert "4 parts were inspected today for widget: 3 passed and 1 were rejected" in opening["answer"]
    assert "25.0% today (1 of 4) against 10.0% last week (1 of 10)" in opening["answer"]
    assert own == {"question": "how many rejects today?", "answer": own["answer"]}
    assert "There were 1 reject today for widget, out of 4 parts inspected" in own["answer"]
    assert "2 rejects today for bracket" in other["answer"]  # a product named in the question wins


def test_questions_come_one_a_line_from_stdin_until_an_empty_line(
    database, make_result, make_frame, tmp_path, monkeypatch, capsys
):
    _history(database, make_result, make_frame)
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("defect rate this week vs last week?\nwhat is the weather?\n\nignored\n")
    )
    assert chat_main(["--product", "WIDGET", "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "> defect rate this week vs last week?\nThe defect rate for widget is" in out
    assert "> what is the weather?\nI don't know that." in out and "ignored" not in out


def test_an_unknown_product_is_named_with_the_known_ones(database, tmp_path, capsys):
    database.products.create("widget")
    assert chat_main(["--product", "gizmo", "--data-dir", str(tmp_path / "data"), "--question", "rejects today?"]) == 2
    assert "no product named 'gizmo' (known products: widget)" in capsys.readouterr().err
