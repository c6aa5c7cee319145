"""History questions: intent parsing on a fixed clock, exact numbers from an in-memory HistoryQueries."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.chat.history import HistoryQueries, Metric, answer_history, looks_like_history, parse_history_question
from tests.chat.conftest import NOW, UTC

NAMES = ["widget-a", "gear b"]


def parse(q):
    return parse_history_question(q, NOW, NAMES)


def test_memory_history_satisfies_the_protocol(history):
    assert isinstance(history, HistoryQueries)


def test_rejects_for_a_product_today():
    intent = parse("How many rejects on product widget-a today?")
    assert intent.metric is Metric.REJECTS and intent.product == "widget-a"
    (p,) = intent.periods
    assert (p.start, p.end, p.label) == (datetime(2024, 5, 15, tzinfo=UTC), datetime(2024, 5, 16, tzinfo=UTC), "today")


def test_periods():
    week = parse("defect rate this week").periods[0]
    assert week.start == datetime(2024, 5, 13, tzinfo=UTC) and week.end == datetime(2024, 5, 20, tzinfo=UTC)
    last = parse("yield last week").periods[0]
    assert last.start == datetime(2024, 5, 6, tzinfo=UTC) and last.end == week.start
    days = parse("rejects in the last 7 days").periods[0]
    assert days.start == datetime(2024, 5, 9, tzinfo=UTC) and days.end == datetime(2024, 5, 16, tzinfo=UTC)
    month = parse("defect rate last month").periods[0]
    assert month.start == datetime(2024, 4, 1, tzinfo=UTC) and month.end == datetime(2024, 5, 1, tzinfo=UTC)
    day = parse("rejects on 2024-05-14").periods[0]
    assert day.start == datetime(2024, 5, 14, tzinfo=UTC) and day.label == "on 2024-05-14"


def test_comparison_defaults_to_rates_in_the_order_asked():
    intent = parse("compare today with last week")
    assert intent.metric is Metric.DEFECT_RATE and intent.is_comparison
    assert [p.label for p in intent.periods] == ["today", "last week"]
    intent = parse("is the defect rate this week better than before?")
    assert [p.label for p in intent.periods] == ["this week", "last week"]
    assert [p.label for p in parse("how did yesterday compare?").periods] == ["yesterday", "the day before"]
    assert parse("compare the last 7 days").periods[1].label == "the 7 days before"


def test_not_history():
    assert parse("is there a scratch?") is None
    assert not looks_like_history("where is the defect on this part?")
    assert looks_like_history("how many rejects today?")


def test_exact_numbers(history):
    assert answer_history(parse("How many rejects on widget-a today?"), history) == (
        "There were 3 rejects today for widget-a, out of 43 parts inspected (defect rate 7.0%)."
    )
    assert answer_history(parse("how many parts were inspected today?"), history) == (
        "64 parts were inspected today across all products: 60 passed and 4 were rejected."
    )
    assert answer_history(parse("defect rate yesterday for gear b"), history) == (
        "The defect rate yesterday for gear b is 100.0%: 2 of 2 parts were rejected."
    )
    # this week: today (43 + 21) + yesterday (55 + 2) = 121 inspected, 3 + 1 + 5 + 2 = 11 rejected
    assert answer_history(parse("defect rate this week"), history) == (
        "The defect rate this week across all products is 9.1%: 11 of 121 parts were rejected."
    )


def test_compare_today_with_last_week(history):
    # today 4/64 = 6.25%; last week 10/160 = 6.25% -> same; widget-a alone: 3/43 = 6.98% vs 10/160 = 6.25%
    text = answer_history(parse("compare today with last week"), history)
    assert text == (
        "The defect rate across all products is 6.2% today (4 of 64) against 6.2% last week (10 of 160), the same."
    )
    text = answer_history(parse("compare widget-a today vs last week"), history)
    assert text == (
        "The defect rate for widget-a is 7.0% today (3 of 43) against 6.2% last week (10 of 160), "
        "0.7 points higher (worse)."
    )


def test_yield_per_day(history):
    text = answer_history(parse("yield per day this week for widget-a"), history)
    assert text == (
        "Yield per day this week for widget-a: Tue 2024-05-14: 90.9% (50 of 55); Wed 2024-05-15: 93.0% (40 of 43)."
    )


def test_no_inspections_and_unknown_product(history):
    assert answer_history(parse("rejects on 2024-01-01"), history) == (
        "No parts were inspected on 2024-01-01 across all products, so there is nothing to count yet."
    )
    assert answer_history(parse("how many rejects for product zeta today"), history) == (
        "I don't know a product called zeta; the known products are: gear b, widget-a."
    )


def test_compare_with_an_empty_period(history):
    text = answer_history(
        parse_history_question("compare today with yesterday", NOW + timedelta(days=30), NAMES), history
    )
    assert text.endswith("one of the periods has no inspections, so they cannot be compared.")
