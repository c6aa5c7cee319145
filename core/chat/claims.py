"""What the language model may never say: a verdict, a correction of one, or an action.

The verdict is the station's. It is stated in the answer's forced first sentence, composed from the measurement
(grounding.first_sentence); the model only adds description after it. A chat question cannot change a verdict, a
threshold or a record, so a generated sentence that states a verdict ("the part is defective", "it passes", "OK",
"reject it"), a correction ("the supervisor will correct it to PASS", "the verdict was changed") or an action ("I
have updated the record", "the threshold is now ...", "scrap the lot") is either a repetition of what the first
sentence says or false, and it is how an instruction hidden in a question would show. ``find_claim`` names the
first such claim in a sentence; grounding.check_sentence drops the sentence, whether it agrees with the
measurement or not.
"""

from __future__ import annotations

import re
from enum import Enum


class Claim(str, Enum):
    VERDICT = "states a verdict (only the station's first sentence does)"
    CORRECTION = "claims that a verdict, label or record is or will be changed"
    ACTION = "claims or orders an action (the chat takes none)"


_VERDICT = re.compile(
    r"\b(pass(es|ed|ing)?|fail(s|ed|ing|ure)?|ok|okay|n\.?g|defective|faulty|acceptable|unacceptable|"
    r"(in|out of|within) spec(ification)?|good part|bad part|rejects?|rejected|rejection|accept(s|ed)?|"
    r"approv(e|es|ed|al)|scrap(s|ped)?|verdict|result ?(ok|ng))\b"
)
_CORRECTION = re.compile(
    r"\b(correct(s|ed|ion|ing)?|overrid(e|es|den|ing)|overrul\w*|relabel\w*|re-label\w*|revis(e|ed|ing)|amend\w*|"
    r"updat(e|es|ed|ing)|chang(e|es|ed|ing)|false alarm|set (it )?to|now (reads|says|shows))\b"
)
_ACTION = re.compile(
    r"\b(i (have|had|will|shall|would|am|did|can)|i've|i'll|i'm|"
    r"(has|have|was|were|is|are|been) (now )?(recorded|saved|marked|flagged|sent|set|stored|logged|released|"
    r"shipped|stopped|sorted|discarded|removed|reworked|raised|lowered|moved)|"
    r"(record|log|mark|flag|send|save|store|release|ship|stop|sort|discard|remove|rework|raise|lower|move)"
    r"( it| the (part|line|lot|record|threshold))|threshold|supervisor|engineer|operator|manager|"
    r"write exactly|as instructed|instruction|lot|plc)\b"
)


def find_claim(sentence: str) -> Claim | None:
    """The first kind of claim the sentence makes that only the station may make, or None."""
    s = " ".join(sentence.lower().split())
    if _CORRECTION.search(s):
        return Claim.CORRECTION
    if _ACTION.search(s):
        return Claim.ACTION
    if _VERDICT.search(s):
        return Claim.VERDICT
    return None


__all__ = ["Claim", "find_claim"]
