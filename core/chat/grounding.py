"""Grounding: the facts of an answer come from the measured inspection, never from the language model.

* ``classify_question`` sorts a question about the current part into a kind (yes/no, where, how large, ...).
* ``first_sentence`` composes the answer's first sentence from the measured verdict and regions; the session
  forces it as the first tokens of the assistant's turn, so the model only continues it.
* ``check_sentence`` rejects a generated sentence that contradicts the measurement (a "no anomaly" after a FAIL,
  a location where nothing was found, a count that differs, any number the model made up), and any that claims a
  verdict, a correction or an action (claims.py): only the forced first sentence states the verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from core.chat.claims import find_claim
from core.result import FAIL, InspectionResult, Region

LOCATION_WORDS = ("top left", "top right", "bottom left", "bottom right", "top", "bottom", "left", "right", "center")


class Kind(str, Enum):
    YES_NO = "yes_no"  # is there a defect? ("Yes" = defective)
    IS_OK = "is_ok"  # is the part ok? ("Yes" = good)
    WHERE = "where"
    SIZE = "size"
    COUNT = "count"
    WHAT = "what"  # what might it be
    REFERENCE = "reference"  # compare with the reference
    CONFIDENCE = "confidence"  # probability / score / threshold
    GENERAL = "general"  # describe the part / anything else about it


_KIND_PATTERNS: list[tuple[Kind, re.Pattern[str]]] = [
    (
        Kind.REFERENCE,
        re.compile(
            r"\b(reference|golden|good (part|sample|one)|normal (part|sample|image)|"
            r"differ|difference|compared?)\b"
        ),
    ),
    (Kind.COUNT, re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b")),
    (Kind.SIZE, re.compile(r"\bhow (large|big|small|much)\b|\bsize\b|\barea\b|\bextent\b|\bpercent|%")),
    (Kind.WHERE, re.compile(r"\bwhere\b|\blocat|\bposition\b|\bwhich (part|side|corner|area)\b")),
    (
        Kind.WHAT,
        re.compile(
            r"\bwhat (kind|type|sort)\b|\bwhat (might|could|is|does) (it|this|that) (be|look)|"
            r"\bwhat is (it|the (defect|anomaly|problem))\b|\bdescribe the (defect|anomaly)\b|"
            r"\bcaused?\b|\blooks? like\b"
        ),
    ),
    (Kind.CONFIDENCE, re.compile(r"\b(probabilit|confiden|certain|sure|score|threshold|likel)")),
    (
        Kind.IS_OK,
        re.compile(
            r"^(?!.*\b(defect|anomal|damage|flaw|scratch|crack|problem|wrong|bad|fail|reject|"
            r"issue|broken))(?=.*\b(ok|okay|good|fine|pass|passes|acceptable|normal|alright|"
            r"all right|in spec|within spec)\b)"
        ),
    ),
    (
        Kind.YES_NO,
        re.compile(
            r"^(is|are|does|do|did|has|have|can|could|should|was|were|will)\b|\bany (defect|"
            r"anomal|problem|damage|flaw)|\b(defect|anomal|damage|flaw|scratch|crack|ok|okay|good|"
            r"bad|fine|pass|fail|reject)"
        ),
    ),
]


# A question that opens as a yes/no question about defects ("Is there a defect? Where?") gets its Yes/No first,
# whatever else it asks; the yes/no sentence names the locations and size anyway.
_OPENS_YES_NO = re.compile(
    r"^(is|are|does|do|did|has|have|was|were)\b.*\b(defect|anomal|damage|flaw|scratch|"
    r"crack|problem|wrong)"
)


def classify_question(question: str) -> Kind:
    q = " ".join(question.lower().split())
    found = Kind.GENERAL
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(q):
            found = kind
            break
    if found not in (Kind.YES_NO, Kind.IS_OK) and _OPENS_YES_NO.search(q):
        return Kind.YES_NO
    return found


def _pct(v: float) -> str:
    if v >= 10:
        return f"{v:.0f}%"
    if v >= 0.1:
        return f"{v:.1f}%"
    return "less than 0.1%"


def _prob(p: float) -> str:
    p100 = 100.0 * float(p)
    if 0 < p100 < 1:
        return "below 1%"
    if 99 < p100 < 100:
        return "above 99%"
    return f"{p100:.0f}%"


def _wh(r: Region) -> str:
    x0, y0, x1, y1 = r.bbox
    return f"{x1 - x0} x {y1 - y0} px"


def _places(regions: list[Region]) -> str:
    words: list[str] = []
    for r in regions:
        if r.location not in words:
            words.append(r.location)
    phrases = [f"the {w}" for w in words]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _total_area(regions: list[Region]) -> float:
    return float(sum(r.area_pct for r in regions))


def _shape(r: Region) -> str:
    x0, y0, x1, y1 = r.bbox
    w, h = max(x1 - x0, 1), max(y1 - y0, 1)
    elong = max(w, h) / min(w, h)
    if elong >= 3.0:
        return "long and thin"
    if r.area_pct >= 5.0:
        return "large and spread out"
    if r.area_pct < 0.5:
        return "small and compact"
    return "compact"


def _passes(result: InspectionResult) -> str:
    return f"the part passes (defect probability {_prob(result.probability)})"


def _fails(result: InspectionResult) -> str:
    return f"the part fails (defect probability {_prob(result.probability)})"


def _pass_sentence(kind: Kind, result: InspectionResult) -> str:
    """The first sentence for a part that passes."""
    if kind is Kind.WHERE:
        return f"There is no anomaly to locate; {_passes(result)}."
    if kind is Kind.SIZE:
        return f"There is no anomalous area; {_passes(result)}."
    if kind is Kind.COUNT:
        return f"There are no anomalous regions; {_passes(result)}."
    if kind is Kind.WHAT:
        return f"There is no anomaly to describe; {_passes(result)}."
    if kind is Kind.REFERENCE:
        ratio = result.score / max(result.threshold, 1e-9)
        return (
            f"The part matches its normal reference: its strongest difference is {ratio:.1f} times the "
            f"decision threshold, so {_passes(result)}."
        )
    if kind is Kind.CONFIDENCE:
        return (
            f"The defect probability is {_prob(result.probability)} (score {result.score:.3g} against a "
            f"threshold of {result.threshold:.3g}), so the part passes."
        )
    if kind is Kind.GENERAL:
        return f"The part passes: no anomaly was found (defect probability {_prob(result.probability)})."
    if kind is Kind.IS_OK:
        return f"Yes, the part passes: there is no anomaly (defect probability {_prob(result.probability)})."
    return f"No, there is no anomaly; {_passes(result)}."


def first_sentence(kind: Kind, result: InspectionResult) -> str:
    """The answer's first sentence, composed from the measurement only."""
    regions = list(result.regions)
    fail = result.verdict == FAIL
    n = len(regions)
    if not fail:
        return _pass_sentence(kind, result)

    if n == 0:  # over the threshold overall, but no single region large enough to report
        base = f"{_fails(result)}, though no single region stands out"
        if kind is Kind.YES_NO:
            return f"Yes, there is an anomaly: {base}."
        if kind is Kind.IS_OK:
            return f"No, {base}."
        if kind is Kind.CONFIDENCE:
            return (
                f"The defect probability is {_prob(result.probability)} (score {result.score:.3g} against a "
                f"threshold of {result.threshold:.3g}), so the part fails."
            )
        return base[0].upper() + base[1:] + "."
    top = regions[0]
    where = _places(regions)
    if kind in (Kind.YES_NO, Kind.IS_OK):
        head = "Yes, there" if kind is Kind.YES_NO else "No, the part fails: there"
        if n == 1:
            return f"{head} is an anomaly at {where} (about {_pct(top.area_pct)} of the part)."
        return f"{head} are {n} anomalies, at {where} (about {_pct(_total_area(regions))} of the part in total)."
    if kind is Kind.WHERE:
        if n == 1:
            x0, y0, x1, y1 = top.bbox
            return f"The anomaly is at {where} of the part (x {x0}-{x1}, y {y0}-{y1} px)."
        return f"There are {n} anomalies, at {where}; the strongest is at the {top.location}."
    if kind is Kind.SIZE:
        if n == 1:
            return f"The anomaly covers about {_pct(top.area_pct)} of the part ({_wh(top)})."
        largest = max(regions, key=lambda r: r.area_pct)
        return (
            f"The {n} anomalies cover about {_pct(_total_area(regions))} of the part in total; the largest, "
            f"at the {largest.location}, covers {_pct(largest.area_pct)}."
        )
    if kind is Kind.COUNT:
        if n == 1:
            return f"There is 1 anomalous region, at {where}."
        return f"There are {n} anomalous regions, at {where}."
    if kind is Kind.WHAT:
        return (
            f"The anomaly at the {top.location} is {_shape(top)} ({_wh(top)}, about {_pct(top.area_pct)} of the part)."
        )
    if kind is Kind.REFERENCE:
        ratio = top.peak / max(result.threshold, 1e-9)
        return (
            f"Compared with the normal reference, the part differs most at the {top.location}, where the "
            f"difference reaches {ratio:.1f} times the decision threshold, so the part fails."
        )
    if kind is Kind.CONFIDENCE:
        return (
            f"The defect probability is {_prob(result.probability)} (score {result.score:.3g} against a "
            f"threshold of {result.threshold:.3g}), so the part fails."
        )
    if n == 1:
        return f"The part fails: there is an anomaly at {where} (about {_pct(top.area_pct)} of the part)."
    return f"The part fails: there are {n} anomalies, at {where}."


# -- checks of generated sentences ---------------------------------------------------------------------------------

_SAYS_OK = re.compile(
    r"\bno (visible |obvious |apparent )?(anomal|defect|damage|flaw|problem|issue|scratch|crack)|"
    r"\bnot (defective|damaged|anomalous)|\bwithout (any )?(defect|anomal|damage)|\bnothing (wrong|unusual)|"
    r"\b(passes|passed|is fine|is ok|is okay|looks good|looks fine|looks normal|is normal|is good|is perfect|"
    r"is flawless|is clean)\b|^no\b"
)
_SAYS_DEFECT = re.compile(
    r"\b(there (is|are) (an? |some |\d+ )?(anomal|defect|damage|flaw|scratch|crack)|is defective|is damaged|"
    r"fails|failed|has (an? )?(defect|anomal|damage|flaw|scratch|crack)|looks like an? |reject)|^yes\b"
)
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "single": 1,
}
_COUNTED = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|single)\s+(\w+\s+)?"
    r"(anomal|defect|region|spot|area|scratch|crack)"
)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def check_sentence(sentence: str, result: InspectionResult | None, allow_numbers: bool = False) -> Verdict:
    """Does a generated sentence agree with the measurement? Numbers are never the model's to state."""
    s = " ".join(sentence.lower().split())
    if not _reads_as_text(s):
        return Verdict(False, "does not read as a sentence")
    if not allow_numbers and re.search(r"\d", s):
        return Verdict(False, "states a number the measurement did not give")
    claim = find_claim(s)
    if claim is not None:  # the verdict is the station's (the forced first sentence); the chat changes nothing
        return Verdict(False, claim.value)
    if result is None:
        return Verdict(True)
    fail = result.verdict == FAIL
    if fail and _SAYS_OK.search(s):
        return Verdict(False, "says the part is fine after a FAIL")
    if not fail and _SAYS_DEFECT.search(s):
        return Verdict(False, "says the part is defective after a PASS")
    mentioned = _locations_in(s)
    if mentioned:
        if not fail:
            return Verdict(False, "names a location although nothing was found")
        allowed = {r.location for r in result.regions}
        allowed_parts = {w for loc in allowed for w in loc.split()} | allowed
        if not all(m in allowed or m in allowed_parts for m in mentioned):
            return Verdict(False, "names a location where nothing was found")
    for m in _COUNTED.finditer(s):
        if _NUMBER_WORDS[m.group(1)] != len(result.regions):
            return Verdict(False, "states a different number of regions")
    return Verdict(True)


def _reads_as_text(s: str) -> bool:
    """At least three words, mostly letters: filters the punctuation runs and fragments a tiny model emits."""
    words = re.findall(r"[a-z]{2,}|\b[ai]\b", s)
    visible = [c for c in s if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    return len(words) >= 3 and bool(visible) and letters / len(visible) >= 0.7


def _locations_in(s: str) -> list[str]:
    found: list[str] = []
    rest = s
    for w in LOCATION_WORDS:
        pattern = re.compile(rf"\b{w}\b")
        if w == "center":
            pattern = re.compile(r"\b(center|centre|middle)\b")
        if pattern.search(rest):
            found.append(w)
            rest = pattern.sub(" ", rest)
    return found
