"""Supervisors' questions about the inspection history: a rule-based intent parser over exact queries.

core/ does not know the database. The chat needs only the small ``HistoryQueries`` protocol below; an adapter in
db/ or desktop/ implements it with exact SQL counts. Numbers in answers come from it, verbatim; the language
model only words the rest.

Periods are half-open ``[start, end)`` intervals of timezone-aware local datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import Enum
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Counts:
    """Inspections and rejects (FAIL verdicts) in a period."""

    inspected: int
    rejected: int

    @property
    def passed(self) -> int:
        return self.inspected - self.rejected

    @property
    def defect_rate(self) -> float | None:
        return self.rejected / self.inspected if self.inspected else None

    @property
    def yield_rate(self) -> float | None:
        return self.passed / self.inspected if self.inspected else None


@runtime_checkable
class HistoryQueries(Protocol):
    """What the chat asks the inspection history. ``product=None`` means all products."""

    def product_names(self) -> Sequence[str]:
        """Names of the known products."""
        ...

    def counts(self, start: datetime, end: datetime, product: str | None = None) -> Counts:
        """Inspections and rejects with ``start <= time < end``."""
        ...

    def daily_counts(self, start: datetime, end: datetime, product: str | None = None) -> Sequence[tuple[date, Counts]]:
        """Per local calendar day in ``[start, end)``, oldest first; days without inspections may be left out."""
        ...


class Metric(str, Enum):
    REJECTS = "rejects"
    INSPECTED = "inspected"
    PASSED = "passed"
    DEFECT_RATE = "defect_rate"
    YIELD = "yield"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    label: str  # "today", "last week", "the last 7 days", ...


@dataclass(frozen=True)
class HistoryIntent:
    metric: Metric
    periods: tuple[Period, ...]  # one, or two for a comparison
    product: str | None = None
    per_day: bool = False
    unknown_product: str | None = None  # a product the question names that the history does not know
    # the question names a period, a known product or a per-day breakdown; False when only words such as "reject"
    # or "compare" made it look like one (they are as likely about the part on screen)
    explicit: bool = True

    @property
    def is_comparison(self) -> bool:
        return len(self.periods) == 2


_HISTORY_HINT = re.compile(
    r"\b(rejects?|rejected|rejections|scrap|defect rate|reject rate|failure rate|fail rate|defective rate|yield|"
    r"pass rate|inspected|inspections|parts (were|have been)|throughput|today|yesterday|this (week|month|shift)|"
    r"last (week|month|\d+ days)|past \d+ days|per day|daily|trend|compare|vs\.?|versus)\b"
)
_ABOUT_THIS_PART = re.compile(r"\b(this|the current|the last) (part|image|piece|frame|one)\b|\bhere\b")


def looks_like_history(question: str) -> bool:
    q = question.lower()
    return bool(_HISTORY_HINT.search(q)) and not _ABOUT_THIS_PART.search(q)


def _midnight(d: date, tz: tzinfo | None) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz)


_PERIOD_PATTERNS = [
    ("today", re.compile(r"\btoday\b|\bso far\b")),
    ("yesterday", re.compile(r"\byesterday\b")),
    ("this week", re.compile(r"\bthis week\b|\bweek so far\b")),
    ("last week", re.compile(r"\b(last|previous|past) week\b")),
    ("this month", re.compile(r"\bthis month\b")),
    ("last month", re.compile(r"\b(last|previous|past) month\b")),
    ("days", re.compile(r"\b(?:last|past|previous) (\d{1,3}) days\b")),
    ("date", re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")),
]


def _period(kind: str, now: datetime, arg: str | None = None) -> Period:
    tz = now.tzinfo
    today = now.date()
    day0 = _midnight(today, tz)
    if kind == "today":
        return Period(day0, day0 + timedelta(days=1), "today")
    if kind == "yesterday":
        return Period(day0 - timedelta(days=1), day0, "yesterday")
    week0 = day0 - timedelta(days=today.weekday())
    if kind == "this week":
        return Period(week0, week0 + timedelta(days=7), "this week")
    if kind == "last week":
        return Period(week0 - timedelta(days=7), week0, "last week")
    month0 = _midnight(today.replace(day=1), tz)
    next_month0 = _midnight((today.replace(day=28) + timedelta(days=4)).replace(day=1), tz)
    if kind == "this month":
        return Period(month0, next_month0, "this month")
    if kind == "last month":
        prev0 = _midnight((today.replace(day=1) - timedelta(days=1)).replace(day=1), tz)
        return Period(prev0, month0, "last month")
    if kind == "days":
        n = max(1, int(arg or 7))
        return Period(day0 - timedelta(days=n - 1), day0 + timedelta(days=1), f"the last {n} days")
    if kind == "date":
        d = date.fromisoformat(str(arg))
        return Period(_midnight(d, tz), _midnight(d, tz) + timedelta(days=1), f"on {d.isoformat()}")
    raise ValueError(kind)


def _previous(p: Period) -> Period:
    """The period of the same length just before ``p`` (today -> yesterday, this week -> last week)."""
    names = {
        "today": "yesterday",
        "yesterday": "the day before",
        "this week": "last week",
        "last week": "the week before",
        "this month": "last month",
    }
    if p.label == "this month":
        prev_end = p.start
        prev_start = _midnight((p.start.date() - timedelta(days=1)).replace(day=1), p.start.tzinfo)
        return Period(prev_start, prev_end, "last month")
    span = p.end - p.start
    fallback = "the day before" if span.days == 1 else f"the {span.days} days before"
    return Period(p.start - span, p.start, names.get(p.label, fallback))


def _find_periods(q: str, now: datetime) -> list[Period]:
    hits: list[tuple[int, Period]] = []
    for kind, pattern in _PERIOD_PATTERNS:
        for m in pattern.finditer(q):
            try:
                p = _period(kind, now, m.group(1) if m.groups() else None)
            except ValueError:
                continue
            hits.append((m.start(), p))
    hits.sort(key=lambda h: h[0])
    out: list[Period] = []
    for _, p in hits:
        if p not in out:
            out.append(p)
    return out


def _find_metric(q: str) -> Metric | None:
    if re.search(
        r"\b(defect|reject|failure|fail|scrap|defective|error) (rate|ratio|percentage|share)\b|"
        r"\b(percentage|share|proportion|fraction) of (rejects|defects|failures|bad)",
        q,
    ):
        return Metric.DEFECT_RATE
    if re.search(r"\byield\b|\bpass (rate|ratio)\b|\bfirst pass\b", q):
        return Metric.YIELD
    if re.search(r"\b(rejects?|rejected|rejections|scrap(ped)?|defective|failed|fails|bad parts|failures)\b", q):
        return Metric.REJECTS
    if re.search(r"\b(passed|good parts|ok parts)\b", q):
        return Metric.PASSED
    if re.search(r"\b(inspected|inspections|parts|throughput|checked|how many)\b", q):
        return Metric.INSPECTED
    return None


def _find_product(q: str, names: Sequence[str]) -> tuple[str | None, str | None]:
    for name in sorted(names, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", q):
            return name, None
    m = re.search(r"\bproduct\s+([\w][\w.\-]*)", q)
    if m and m.group(1) not in ("today", "yesterday", "this", "last", "per", "in", "on", "for"):
        return None, m.group(1)
    return None, None


def parse_history_question(question: str, now: datetime, product_names: Sequence[str] = ()) -> HistoryIntent | None:
    """The history query a question asks for, or None when it is not one this parser understands."""
    q = " ".join(question.lower().split())
    metric = _find_metric(q)
    periods = _find_periods(q, now)
    comparing = bool(re.search(r"\b(compare|compared|vs\.?|versus|than|against|change|changed|trend)\b", q))
    per_day = bool(re.search(r"\bper day\b|\bdaily\b|\beach day\b|\bby day\b|\bday by day\b", q))
    if metric is None and not periods and not comparing:
        return None
    if metric is None:
        metric = Metric.DEFECT_RATE if comparing else Metric.REJECTS
    if (
        comparing
        and metric in (Metric.REJECTS, Metric.INSPECTED, Metric.PASSED)
        and not re.search(r"\bhow many\b|\bnumber\b|\bcount\b", q)
    ):
        metric = Metric.DEFECT_RATE  # "compare today with last week": rates, not raw counts of unequal periods
    named_period = bool(periods)
    if not periods:
        periods = [_period("this week" if per_day else "today", now)]
    if comparing and len(periods) == 1:
        periods.append(_previous(periods[0]))
    product, unknown = _find_product(q, product_names)
    explicit = named_period or per_day or product is not None
    return HistoryIntent(
        metric, tuple(periods[:2] if comparing else periods[:1]), product, per_day, unknown, explicit=explicit
    )


# -- answers -------------------------------------------------------------------------------------------------------


def _rate(v: float | None) -> str:
    return "n/a" if v is None else f"{100.0 * v:.1f}%"


def _scope(intent: HistoryIntent) -> str:
    return f"for {intent.product}" if intent.product else "across all products"


def _one_period(intent: HistoryIntent, p: Period, c: Counts) -> str:
    m = intent.metric
    if c.inspected == 0:
        return f"No parts were inspected {p.label} {_scope(intent)}, so there is nothing to count yet."
    if m is Metric.REJECTS:
        noun = "reject" if c.rejected == 1 else "rejects"
        return (
            f"There were {c.rejected} {noun} {p.label} {_scope(intent)}, out of {c.inspected} parts inspected "
            f"(defect rate {_rate(c.defect_rate)})."
        )
    if m is Metric.INSPECTED:
        return (
            f"{c.inspected} parts were inspected {p.label} {_scope(intent)}: {c.passed} passed and "
            f"{c.rejected} were rejected."
        )
    if m is Metric.PASSED:
        return f"{c.passed} of {c.inspected} parts passed {p.label} {_scope(intent)} (yield {_rate(c.yield_rate)})."
    if m is Metric.YIELD:
        return (
            f"The yield {p.label} {_scope(intent)} is {_rate(c.yield_rate)}: {c.passed} of {c.inspected} parts passed."
        )
    return (
        f"The defect rate {p.label} {_scope(intent)} is {_rate(c.defect_rate)}: {c.rejected} of {c.inspected} "
        "parts were rejected."
    )


def _value(m: Metric, c: Counts) -> float | None:
    return {
        Metric.REJECTS: float(c.rejected),
        Metric.INSPECTED: float(c.inspected),
        Metric.PASSED: float(c.passed),
        Metric.DEFECT_RATE: c.defect_rate,
        Metric.YIELD: c.yield_rate,
    }[m]


def _comparison(intent: HistoryIntent, a: Period, ca: Counts, b: Period, cb: Counts) -> str:
    m = intent.metric
    va, vb = _value(m, ca), _value(m, cb)
    if m in (Metric.DEFECT_RATE, Metric.YIELD):
        name = "defect rate" if m is Metric.DEFECT_RATE else "yield"
        head = (
            f"The {name} {_scope(intent)} is {_rate(va)} {a.label} ({ca.rejected if m is Metric.DEFECT_RATE else ca.passed} "
            f"of {ca.inspected}) against {_rate(vb)} {b.label} "
            f"({cb.rejected if m is Metric.DEFECT_RATE else cb.passed} of {cb.inspected})"
        )
        if va is None or vb is None:
            return head + "; one of the periods has no inspections, so they cannot be compared."
        diff = 100.0 * (va - vb)
        if abs(diff) < 0.05:
            return head + ", the same."
        better = (diff < 0) if m is Metric.DEFECT_RATE else (diff > 0)
        return (
            head + f", {abs(diff):.1f} points {'higher' if diff > 0 else 'lower'} ({'better' if better else 'worse'})."
        )
    noun = {Metric.REJECTS: "rejects", Metric.INSPECTED: "parts inspected", Metric.PASSED: "parts passed"}[m]
    return (
        f"There were {int(va or 0)} {noun} {a.label} against {int(vb or 0)} {b.label} {_scope(intent)} "
        f"(defect rate {_rate(ca.defect_rate)} against {_rate(cb.defect_rate)})."
    )


def _per_day(intent: HistoryIntent, p: Period, days: Sequence[tuple[date, Counts]]) -> str:
    days = [(d, c) for d, c in days if c.inspected]
    if not days:
        return f"No parts were inspected {p.label} {_scope(intent)}."
    use_yield = intent.metric in (Metric.YIELD, Metric.PASSED)
    name = "Yield" if use_yield else "Defect rate"
    items = "; ".join(
        f"{d.strftime('%a %Y-%m-%d')}: {_rate(c.yield_rate if use_yield else c.defect_rate)} "
        f"({c.passed if use_yield else c.rejected} of {c.inspected})"
        for d, c in days
    )
    return f"{name} per day {p.label} {_scope(intent)}: {items}."


def answer_history(intent: HistoryIntent, queries: HistoryQueries) -> str:
    """The exact, templated answer sentence for a parsed history question."""
    if intent.unknown_product:
        known = ", ".join(queries.product_names()) or "none yet"
        return f"I don't know a product called {intent.unknown_product}; the known products are: {known}."
    p = intent.periods[0]
    if intent.per_day:
        return _per_day(intent, p, queries.daily_counts(p.start, p.end, intent.product))
    ca = queries.counts(p.start, p.end, intent.product)
    if intent.is_comparison:
        b = intent.periods[1]
        return _comparison(intent, p, ca, b, queries.counts(b.start, b.end, intent.product))
    return _one_period(intent, p, ca)


def local_now() -> datetime:
    return datetime.now().astimezone()


Clock = Callable[[], datetime]
