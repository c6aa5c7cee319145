"""First sentences come from the measurement; generated sentences that contradict it are rejected."""

from __future__ import annotations

import pytest

from core.chat.grounding import Kind, check_sentence, classify_question, first_sentence
from core.result import FAIL, PASS, Region
from tests.chat.conftest import make_result


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Is there a defect on this part?", Kind.YES_NO),
        ("Is this part OK?", Kind.IS_OK),
        ("does it pass?", Kind.IS_OK),
        ("is it good or bad?", Kind.YES_NO),
        ("any anomalies?", Kind.YES_NO),
        ("Where is the defect?", Kind.WHERE),
        ("How large is it?", Kind.SIZE),
        ("How many regions are there?", Kind.COUNT),
        ("What might it be?", Kind.WHAT),
        ("What kind of defect is it?", Kind.WHAT),
        ("Compare it with the reference", Kind.REFERENCE),
        ("How sure are you?", Kind.CONFIDENCE),
        ("Describe the image", Kind.GENERAL),
        ("Is there a defect? Where?", Kind.YES_NO),
        ("Are there any scratches, and how large are they?", Kind.YES_NO),
        ("Is the defect large?", Kind.YES_NO),
    ],
)
def test_classify(question, kind):
    assert classify_question(question) is kind


def test_yes_no_follows_the_verdict(fail_result, pass_result):
    assert (
        first_sentence(Kind.YES_NO, fail_result) == "Yes, there is an anomaly at the top left (about 2.1% of the part)."
    )
    assert (
        first_sentence(Kind.YES_NO, pass_result) == "No, there is no anomaly; the part passes (defect probability 3%)."
    )


def test_is_ok_questions_answer_with_the_right_polarity(fail_result, pass_result):
    assert (
        first_sentence(Kind.IS_OK, pass_result) == "Yes, the part passes: there is no anomaly (defect probability 3%)."
    )
    assert (
        first_sentence(Kind.IS_OK, fail_result)
        == "No, the part fails: there is an anomaly at the top left (about 2.1% of the part)."
    )
    assert first_sentence(Kind.IS_OK, make_result(FAIL, regions=[])).startswith("No, the part fails")


def test_several_regions_are_counted_and_placed():
    regions = [
        Region((10, 10, 40, 40), 1.5, "top left", 3.0),
        Region((120, 150, 200, 190), 4.0, "bottom", 2.0),
        Region((20, 20, 30, 30), 0.2, "top left", 1.5),
    ]
    r = make_result(FAIL, regions)
    assert (
        first_sentence(Kind.YES_NO, r)
        == "Yes, there are 3 anomalies, at the top left and the bottom (about 5.7% of the part in total)."
    )
    assert first_sentence(Kind.COUNT, r) == "There are 3 anomalous regions, at the top left and the bottom."
    assert "the largest, at the bottom, covers 4.0%" in first_sentence(Kind.SIZE, r)
    assert first_sentence(Kind.WHERE, r).endswith("the strongest is at the top left.")


def test_other_kinds_state_measured_facts(fail_result, pass_result):
    assert (
        first_sentence(Kind.WHERE, fail_result) == "The anomaly is at the top left of the part (x 10-60, y 12-40 px)."
    )
    assert first_sentence(Kind.SIZE, fail_result) == "The anomaly covers about 2.1% of the part (50 x 28 px)."
    assert first_sentence(Kind.WHAT, fail_result).startswith("The anomaly at the top left is compact")
    assert "2.4 times the decision threshold" in first_sentence(Kind.REFERENCE, fail_result)
    assert first_sentence(Kind.CONFIDENCE, fail_result).startswith("The defect probability is 93%")
    for kind in Kind:
        s = first_sentence(kind, pass_result)
        assert "pass" in s and "fails" not in s, s


def test_fail_without_regions_still_says_yes():
    r = make_result(FAIL, regions=[])
    s = first_sentence(Kind.YES_NO, r)
    assert s.startswith("Yes,") and "no single region stands out" in s


@pytest.mark.parametrize(
    "sentence",
    [
        "There is no anomaly in this part.",
        "The part passes.",
        "It looks good.",
        "No defects were found.",
        "The part is not defective.",
    ],
)
def test_reassurance_after_fail_is_rejected(sentence, fail_result):
    assert not check_sentence(sentence, fail_result).ok


@pytest.mark.parametrize(
    "sentence",
    [
        "There is a scratch on the surface.",
        "It looks like a scratch.",
        "The part is defective and must go.",
        "The part fails the check here.",
        "Something odd sits at the top left corner.",
    ],
)
def test_defect_talk_after_pass_is_rejected(sentence, pass_result):
    assert not check_sentence(sentence, pass_result).ok


def test_locations_counts_and_numbers_must_match(fail_result):
    assert check_sentence("It looks like a scratch.", fail_result).ok
    assert check_sentence("The damage at the top left needs a closer look.", fail_result).ok
    assert not check_sentence("There is damage at the bottom right of the part.", fail_result).ok
    assert not check_sentence("There are two defects on the part surface.", fail_result).ok
    assert not check_sentence("It covers about 7% of the part surface.", fail_result).ok
    assert not check_sentence(").).).).", fail_result).ok
    assert check_sentence("The surface looks uniform.", make_result(PASS)).ok
