"""ChatSession: answers agree with the measurement even when the model is random or says the opposite."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from core.chat.errors import ChatInputError
from core.chat.generation import DecodeSettings, StopFlag
from core.chat.lm_loader import LanguageModel
from core.chat.prompt_learner import PromptLearner, PromptLearnerConfig
from core.chat.session import CAPABILITIES, MAX_QUESTION_CHARS, NO_HISTORY, NO_INSPECTION, ChatSession
from core.result import FAIL, PASS
from tests.chat.conftest import NOW, make_model, make_result


class ScriptedLM(nn.Module):
    """A stand-in causal LM that always continues with the same text, whatever it is shown."""

    def __init__(self, tokenizer, script: str):
        super().__init__()
        self.script = tokenizer(script, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        self.vocab = len(tokenizer)
        self.embed = nn.Embedding(self.vocab, 8)
        self.config = SimpleNamespace(hidden_size=8)
        self.fed = 0

    def get_input_embeddings(self):
        return self.embed

    def forward(self, input_ids=None, inputs_embeds=None, past_key_values=None, use_cache=True, **kw):
        step = 0 if past_key_values is None else past_key_values + 1
        self.fed += 1
        logits = torch.full((1, 1, self.vocab), -10.0)
        logits[0, 0, self.script[min(step, len(self.script) - 1)]] = 10.0
        return SimpleNamespace(logits=logits, past_key_values=step)


def scripted(tokenizer, text):
    return LanguageModel(ScriptedLM(tokenizer, text), tokenizer, "scripted", torch.device("cpu"), torch.float32, "t")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_model_cannot_change_the_verdict(tiny_tokenizer, seed):
    lm = LanguageModel(
        make_model(len(tiny_tokenizer), seed), tiny_tokenizer, "tiny", torch.device("cpu"), torch.float32, "t"
    )
    session = ChatSession(lm)
    session.set_inspection(make_result(FAIL))
    assert session.answer("Is there a defect?").startswith(
        "Yes, there is an anomaly at the top left (about 2.1% of the part)."
    )
    session.set_inspection(make_result(PASS))
    answer = session.answer("Is there a defect?")
    assert answer.startswith("No, there is no anomaly; the part passes")
    assert session.last_report.new_tokens > 0


def test_contradiction_is_dropped_and_agreement_kept(tiny_tokenizer):
    session = ChatSession(scripted(tiny_tokenizer, " There is no anomaly in this part. It looks fine."))
    session.set_inspection(make_result(FAIL))
    answer = session.answer("Is there a defect?")
    assert answer == "Yes, there is an anomaly at the top left (about 2.1% of the part)."
    assert session.last_report.rejected  # the generated "no anomaly" was caught, twice (retry), then cut

    session = ChatSession(scripted(tiny_tokenizer, " It looks like a scratch."))
    session.set_inspection(make_result(FAIL))
    assert session.answer("What might it be?").endswith("It looks like a scratch.")
    session.set_inspection(make_result(PASS))
    assert (
        session.answer("What might it be?")
        == "There is no anomaly to describe; the part passes (defect probability 3%)."
    )


def test_a_sentence_cut_by_the_token_budget_is_not_shown(tiny_tokenizer):
    lm = scripted(tiny_tokenizer, " It looks like a scratch.")
    session = ChatSession(lm, settings=DecodeSettings(max_new_tokens=3))
    session.set_inspection(make_result(FAIL))
    assert session.answer("What might it be?").endswith("of the part).")
    session = ChatSession(lm, settings=DecodeSettings(max_new_tokens=30))
    session.set_inspection(make_result(FAIL))
    assert session.answer("What might it be?").endswith("of the part). It looks like a scratch.")


def test_follow_ups_keep_the_context(tiny_lm):
    session = ChatSession(tiny_lm, settings=DecodeSettings(max_new_tokens=4))
    session.set_inspection(make_result(FAIL), product="widget-a")
    session.answer("Is there a defect?")
    assert session.answer("Where?").startswith("The anomaly is at the top left of the part")
    assert session.answer("how big is it?").startswith("The anomaly covers about 2.1% of the part")
    assert session.answer("how many regions?").startswith("There is 1 anomalous region, at the top left.")
    assert [t.kind for t in session.transcript] == ["yes_no", "where", "size", "count"]
    assert len(session._context_turns()) == 4  # the last two exchanges go back to the model
    session.set_inspection(make_result(PASS))
    assert session.transcript == []


def test_prompt_learner_is_used_once_per_part(tiny_lm):
    learner = PromptLearner(PromptLearnerConfig(hidden_size=32))
    calls = []
    learner.register_forward_hook(lambda *a: calls.append(1))
    session = ChatSession(tiny_lm, learner, settings=DecodeSettings(max_new_tokens=2))
    session.set_inspection(make_result(FAIL), frame=np.zeros((50, 60, 3), np.uint8))
    session.answer("Is there a defect?")
    session.answer("Where?")
    assert len(calls) == 1


def test_history_numbers_come_from_the_queries(tiny_lm, history):
    session = ChatSession(tiny_lm, history=history, clock=lambda: NOW)
    answer = session.answer("How many rejects on widget-a today?")
    assert answer.startswith("There were 3 rejects today for widget-a, out of 43 parts inspected (defect rate 7.0%).")
    assert not any(
        ch.isdigit()
        for ch in answer[
            len("There were 3 rejects today for widget-a, out of 43 parts inspected (defect rate 7.0%).") :
        ]
    )
    assert session.last_report.kind == "history"
    no_db = ChatSession(tiny_lm, clock=lambda: NOW)
    assert no_db.answer("defect rate this week") == NO_HISTORY


def test_history_failure_is_reported_not_raised(tiny_lm, history):
    def locked(*args, **kwargs):
        raise RuntimeError("database is locked")

    history.counts = locked
    session = ChatSession(tiny_lm, history=history, clock=lambda: NOW)
    assert session.answer("how many rejects today?") == (
        "I could not read the inspection history (database is locked); try again in a moment."
    )
    assert session.transcript[-1].kind == "history"


def test_unanswerable_and_no_inspection(tiny_lm):
    session = ChatSession(tiny_lm)
    assert session.answer("Who won the football match?") == f"I don't know that. {CAPABILITIES}"
    assert session.answer("Is there a defect?") == NO_INSPECTION


def test_bad_questions(tiny_lm):
    session = ChatSession(tiny_lm, settings=DecodeSettings(max_new_tokens=2))
    session.set_inspection(make_result(FAIL))
    with pytest.raises(ChatInputError, match="empty"):
        session.answer("   \n\t ")
    with pytest.raises(ChatInputError):
        session.answer("\x00\x01")
    assert session.transcript == []
    long = "Is there a defect? " + "very " * 1000
    answer = session.answer(long)
    assert answer.startswith("Yes, there is an anomaly")
    assert answer.endswith(f"I read only its first {MAX_QUESTION_CHARS}.)")
    assert len(session.transcript[-1].question) == MAX_QUESTION_CHARS


def test_stop_flag_ends_the_answer(tiny_lm):
    session = ChatSession(tiny_lm)
    session.set_inspection(make_result(FAIL))
    stop = StopFlag()
    pieces = []
    for piece in session.ask("Is there a defect?", stop):
        pieces.append(piece)
        stop.set()
    assert pieces == ["Yes, there is an anomaly at the top left (about 2.1% of the part)."]
    assert session.last_report.stopped and session.transcript[-1].stopped
    assert session.last_report.new_tokens == 0


def test_without_a_model_the_facts_still_come(tiny_tokenizer):
    session = ChatSession(None)
    session.set_inspection(make_result(PASS))
    assert session.answer("is it ok?") == "Yes, the part passes: there is no anomaly (defect probability 3%)."
