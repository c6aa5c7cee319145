"""Statistics on a hand-built history with answers worked out by hand (exact equality)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from core.result import InspectionResult, Region
from db import stats
from db.errors import NotFoundError
from db.repository import Database

UTC = UTC
PLUS2 = timezone(timedelta(hours=2))
NOW = datetime(2024, 3, 6, 15, 30, tzinfo=UTC)  # a Wednesday; this week began Monday 2024-03-04 00:00


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, minute, second, tzinfo=UTC)


# (time, product, verdict, score, region locations, review)
HISTORY = [
    # this week, widget
    (at(4, 0), "widget", "PASS", 0.1, (), None),
    (at(5, 10), "widget", "PASS", 0.6, (), None),
    (at(5, 11), "widget", "FAIL", 2.5, ("bottom right",), None),
    (at(6, 8, 5), "widget", "PASS", 0.3, (), None),
    (at(6, 8, 20), "widget", "FAIL", 2.1, ("top left",), None),
    (at(6, 8, 40), "widget", "PASS", 0.5, (), None),
    (at(6, 9, 10), "widget", "FAIL", 1.8, ("top left", "center"), "false_alarm"),
    (at(6, 9, 15), "widget", "PASS", 0.2, (), None),
    (at(6, 9, 50), "widget", "PASS", 0.4, (), None),
    (at(6, 15, 0), "widget", "FAIL", 3.3, ("center", "center"), "confirmed_defect"),
    (at(6, 16, 0), "widget", "FAIL", 2.7, ("center",), None),  # after NOW
    # this week, bracket
    (at(6, 8, 30), "bracket", "FAIL", 4.0, ("center",), None),
    (at(6, 12, 0), "bracket", "PASS", 0.7, (), None),
    # last week, widget
    (at(26, 0, month=2), "widget", "PASS", 0.3, (), None),
    (at(28, 10, month=2), "widget", "PASS", 0.3, (), None),
    (at(1, 10), "widget", "PASS", 0.3, (), None),
    (at(3, 23, 59, 59), "widget", "FAIL", 2.2, ("top left",), None),
    # two weeks ago
    (at(25, 23, month=2), "widget", "FAIL", 5.0, ("top right",), None),
]


def _frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)


def _result(verdict: str, score: float, threshold: float, locations: tuple[str, ...]) -> InspectionResult:
    regions = [Region(bbox=(0, 0, 4, 4), area_pct=2.0, location=loc, peak=score) for loc in locations]
    return InspectionResult(
        verdict=verdict,
        probability=0.9 if verdict == "FAIL" else 0.1,
        score=score,
        threshold=threshold,
        anomaly_map=np.zeros((8, 8), np.float32),
        regions=regions,
        timings_ms={"total": 1.0},
        encoder_id="efficientnet-lite0",
        calibration_id="cal",
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """Built once for the module; tests that change the product put it back."""
    database = Database.open(tmp_path_factory.mktemp("stats") / "data")
    widget = database.products.create("widget")
    bracket = database.products.create("bracket")
    database.products.save_calibration(widget.id, {"threshold": 1.5})
    ids = {"widget": widget.id, "bracket": bracket.id}
    thresholds = {"widget": 1.5, "bracket": 1.6}
    for i, (when, product, verdict, score, locations, review) in enumerate(HISTORY):
        rec = database.inspections.record(
            product_id=ids[product],
            result=_result(verdict, score, thresholds[product], locations),
            image=_frame(i),
            time=when,
        )
        if review == "false_alarm":
            database.inspections.mark_false_alarm(rec.id, by="qa")
        elif review == "confirmed_defect":
            database.inspections.confirm_defect(rec.id, by="qa")
    yield database
    database.close()


def test_rejects_today(history: Database) -> None:
    r = history.stats.rejects_today(product="widget", now=NOW)
    assert (r.product, r.start, r.end) == ("widget", at(6, 0), NOW)
    assert (r.inspected, r.rejected, r.confirmed_defects, r.false_alarms) == (7, 3, 1, 1)
    assert r.reject_rate_pct == 100.0 * 3 / 7
    everything = history.stats.rejects_today(now=NOW)
    assert (everything.product, everything.inspected, everything.rejected) == (None, 9, 4)
    # "today" follows the time zone of `now`: at 01:00 (+02:00) on the 7th, today began 22:00 UTC on the 6th
    assert history.stats.rejects_today(product="widget", now=datetime(2024, 3, 7, 1, 0, tzinfo=PLUS2)).inspected == 0


def test_reject_count_over_a_range_by_id_or_name(history: Database) -> None:
    widget = history.products.get("widget")
    by_id = stats.reject_count(history.engine, product=widget.id, start=at(26, 0, month=2), end=at(4, 0))
    by_name = stats.reject_count(history.engine, product="widget", start=at(26, 0, month=2), end=at(4, 0))
    assert by_id == by_name
    assert (by_id.inspected, by_id.rejected) == (4, 1)
    with pytest.raises(NotFoundError, match="no product named 'gizmo'.*Known products: bracket, widget"):
        history.stats.reject_count(product="gizmo", start=at(1, 0), end=NOW)


def test_yield_per_hour(history: Database) -> None:
    series = history.stats.yield_per_hour(product="widget", start=at(6, 8), end=at(6, 10))
    assert series.bucket == "hour"
    assert [(b.start, b.end) for b in series.buckets] == [(at(6, 8), at(6, 9)), (at(6, 9), at(6, 10))]
    assert [(b.inspected, b.passed, b.failed) for b in series.buckets] == [(3, 2, 1), (3, 2, 1)]
    assert [b.yield_pct for b in series.buckets] == [100.0 * 2 / 3, 100.0 * 2 / 3]
    assert (series.inspected, series.passed, series.failed, series.yield_pct) == (6, 4, 2, 100.0 * 4 / 6)
    # empty hours are listed with no yield
    quiet = history.stats.yield_per_hour(product="widget", start=at(6, 10), end=at(6, 12, 30))
    assert [(b.start, b.inspected, b.yield_pct) for b in quiet.buckets] == [
        (at(6, 10), 0, None),
        (at(6, 11), 0, None),
        (at(6, 12), 0, None),
    ]
    assert quiet.yield_pct is None


def test_yield_per_day_in_utc_and_in_a_local_zone(history: Database) -> None:
    utc_days = history.stats.yield_per_day(product="widget", start=at(4, 0), end=at(7, 0))
    assert [b.start for b in utc_days.buckets] == [at(4, 0), at(5, 0), at(6, 0)]
    assert [(b.inspected, b.passed, b.failed) for b in utc_days.buckets] == [(1, 1, 0), (2, 1, 1), (8, 4, 4)]
    assert (utc_days.inspected, utc_days.passed, utc_days.failed) == (11, 6, 5)
    assert utc_days.yield_pct == 100.0 * 6 / 11

    local = history.stats.yield_per_day(
        product="widget", start=datetime(2024, 3, 4, tzinfo=PLUS2), end=datetime(2024, 3, 7, tzinfo=PLUS2)
    )
    assert [b.start for b in local.buckets] == [at(3, 22), at(4, 22), at(5, 22)]  # local midnights, in UTC
    assert [(b.inspected, b.passed, b.failed) for b in local.buckets] == [(2, 1, 1), (2, 1, 1), (8, 4, 4)]


def test_score_distribution_and_threshold_in_use(history: Database) -> None:
    dist = history.stats.score_distribution(product="widget", start=at(6, 0), end=at(7, 0))
    assert dist.scores == (0.3, 2.1, 0.5, 1.8, 0.2, 0.4, 3.3, 2.7)
    assert dist.verdicts == ("PASS", "FAIL", "PASS", "FAIL", "PASS", "PASS", "FAIL", "FAIL")
    assert (dist.threshold, dist.threshold_overridden) == (1.5, False)  # from the calibration
    edges, counts = dist.histogram(bins=2)
    assert edges == [0.2, 0.2 + (3.3 - 0.2) / 2, 3.3] and counts == [4, 4]

    widget = history.products.get("widget")
    history.products.set_threshold_override(widget.id, 1.7, by="supervisor")
    try:
        overridden = history.stats.score_distribution(product="widget", start=at(6, 0), end=at(7, 0))
    finally:
        history.products.set_threshold_override(widget.id, None, by="supervisor")
    assert (overridden.threshold, overridden.threshold_overridden) == (1.7, True)

    bracket = history.stats.score_distribution(product="bracket", start=at(6, 0), end=at(7, 0))
    assert bracket.scores == (4.0, 0.7) and bracket.threshold == 1.6  # no calibration: last recorded threshold
    empty = history.stats.score_distribution(product="bracket", start=at(1, 0), end=at(2, 0))
    assert (empty.scores, empty.threshold, empty.histogram()) == ((), None, ([], []))


def test_defect_rate_this_week_vs_last_week(history: Database) -> None:
    cmp = history.stats.defect_rate_week_over_week(product="widget", now=NOW)
    assert (cmp.this_week.start, cmp.this_week.end) == (at(4, 0), NOW)
    assert (cmp.last_week.start, cmp.last_week.end) == (at(26, 0, month=2), at(4, 0))
    assert (cmp.this_week.inspected, cmp.this_week.failed, cmp.this_week.rate_pct) == (10, 4, 40.0)
    assert (cmp.last_week.inspected, cmp.last_week.failed, cmp.last_week.rate_pct) == (4, 1, 25.0)
    assert cmp.change_points == 15.0
    bracket = history.stats.defect_rate_week_over_week(product="bracket", now=NOW)
    assert (bracket.this_week.rate_pct, bracket.last_week.rate_pct, bracket.change_points) == (50.0, None, None)


def test_most_frequent_region_locations(history: Database) -> None:
    locs = history.stats.region_locations(product="widget", start=at(4, 0), end=NOW)
    assert locs.inspections == 4
    assert [(c.location, c.regions, c.inspections) for c in locs.locations] == [
        ("center", 3, 2),
        ("top left", 2, 2),
        ("bottom right", 1, 1),
    ]
    assert locs.most_frequent == "center"
    top2 = stats.region_locations(history.engine, start=at(4, 0), end=NOW, limit=2)
    assert [(c.location, c.regions, c.inspections) for c in top2.locations] == [("center", 4, 3), ("top left", 2, 2)]
    assert history.stats.region_locations(product="bracket", start=at(1, 0), end=at(2, 0)).most_frequent is None


def test_naive_times_are_refused(history: Database) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        history.stats.reject_count(start=datetime(2024, 3, 1), end=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        history.stats.rejects_today(now=datetime(2024, 3, 6, 12))


def test_chat_history_queries_give_the_chat_exact_numbers(history: Database) -> None:
    from datetime import date

    from core.chat.history import Counts, HistoryQueries, answer_history, parse_history_question

    queries = history.history_queries
    assert isinstance(queries, HistoryQueries)
    assert list(queries.product_names()) == ["bracket", "widget"]
    assert queries.counts(at(6, 0), at(7, 0), "widget") == Counts(inspected=8, rejected=4)
    assert queries.counts(at(6, 0), at(7, 0)) == Counts(inspected=10, rejected=5)
    local_days = queries.daily_counts(datetime(2024, 3, 4, tzinfo=PLUS2), datetime(2024, 3, 7, tzinfo=PLUS2), "widget")
    assert list(local_days) == [
        (date(2024, 3, 4), Counts(2, 1)),
        (date(2024, 3, 5), Counts(2, 1)),
        (date(2024, 3, 6), Counts(8, 4)),
    ]
    assert queries.daily_counts(at(1, 0), at(1, 5)) == []  # days without inspections are left out

    intent = parse_history_question("How many rejects today for widget?", NOW, queries.product_names())
    assert intent is not None
    assert answer_history(intent, queries) == (
        "There were 4 rejects today for widget, out of 8 parts inspected (defect rate 50.0%)."
    )


def test_repeated_statistics_define_no_new_session_classes(history: Database) -> None:
    """Every sessionmaker defines a Session subclass, a reference cycle that only the interpreter's rare full
    collection frees, with its entries in SQLAlchemy's event registry: the Statistics view's queries made one per
    query (the soak's allocation trace, docs/reliability.md). The queries now share the engine's one factory."""
    import gc

    from sqlalchemy.orm import Session

    history.stats.yield_per_hour(product="widget", start=at(6, 8), end=at(6, 10))  # the first may define one
    gc.disable()  # count the classes made, whether or not a collection happens to run meanwhile
    try:
        before = len(Session.__subclasses__())
        for _ in range(50):
            history.stats.yield_per_hour(product="widget", start=at(6, 8), end=at(6, 10))
            history.stats.score_distribution(product="widget", start=at(6, 0), end=at(7, 0))
            history.stats.rejects_today(product="widget", now=NOW)
        assert len(Session.__subclasses__()) == before
    finally:
        gc.enable()
