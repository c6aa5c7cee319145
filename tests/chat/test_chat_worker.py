"""The chat worker thread: loads once, streams tokens through signals, stops on request, reports failures."""

from __future__ import annotations

import threading
import time

import pytest
import torch

pytest.importorskip("PySide6")

from core.chat.generation import DecodeSettings
from core.chat.lm_loader import LanguageModel
from core.chat.session import NO_INSPECTION, ChatSession
from core.errors import ModelLoadError
from core.result import FAIL, PASS
from desktop.workers.chat_worker import ChatService
from line.chat.context import ChatContext
from tests.chat.conftest import make_result
from tests.chat.scripted_lm import SENTENCES, SlowLM


@pytest.fixture
def service_for(qtbot):
    services = []

    def make(factory, threads=None):
        s = ChatService(session_factory=factory, threads=threads)
        services.append(s)
        return s

    yield make
    for s in services:
        assert s.shutdown()


def test_model_loads_once_in_the_thread_and_answers_stream(qtbot, service_for, tiny_lm):
    threads = []

    def factory(history):
        threads.append(threading.get_ident())
        return ChatSession(tiny_lm, settings=DecodeSettings(max_new_tokens=6)), "tiny-llama"

    service = service_for(factory)
    with qtbot.waitSignal(service.modelReady, timeout=10000) as ready:
        service.start()
    assert ready.args == ["tiny-llama"]
    tokens = []
    service.tokenReceived.connect(tokens.append)
    with qtbot.waitSignal(service.answerFinished, timeout=10000) as done:
        service.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    assert done.args[0].startswith("Yes, there is an anomaly at the top left") and "".join(tokens) == done.args[0]
    with qtbot.waitSignal(service.answerFinished, timeout=10000) as done:
        service.ask("Is there a defect?", ChatContext(make_result(PASS)))
    assert done.args[0].startswith("No, there is no anomaly")
    with qtbot.waitSignal(service.answerFinished, timeout=10000) as done:
        service.ask("Where is it?", None)
    assert done.args[0] == NO_INSPECTION
    assert threads == [service.thread.ident]  # loaded once, in the chat thread


def test_decoding_threads_are_set_in_the_chat_thread(qtbot, service_for, tiny_lm):
    seen = []

    def factory(history):
        seen.append(torch.get_num_threads())
        return ChatSession(tiny_lm), "tiny"

    service = service_for(factory, threads=2)  # the tests run torch on 1 thread: 2 shows the setting took
    with qtbot.waitSignal(service.modelReady, timeout=10000):
        service.start()
    assert seen == [2]


def test_stop_ends_the_answer_between_tokens(qtbot, service_for, tiny_tokenizer):
    lm = LanguageModel(SlowLM(tiny_tokenizer), tiny_tokenizer, "slow", torch.device("cpu"), torch.float32, "t")
    settings = DecodeSettings(max_new_tokens=400, max_sentences=100)
    service = service_for(lambda h: (ChatSession(lm, settings=settings), "slow"))
    service.tokenReceived.connect(lambda _t: service.stop())
    t0 = time.monotonic()
    with qtbot.waitSignal(service.answerFinished, timeout=10000) as done:
        service.ask("What might it be?", ChatContext(make_result(FAIL)))
    assert time.monotonic() - t0 < 5.0
    answer = done.args[0]
    assert answer.startswith("The anomaly at the top left")
    assert SENTENCES[-1] not in answer  # stopped before the model's last sentence (unstopped, it writes all)
    service.tokenReceived.disconnect()
    with qtbot.waitSignal(service.answerFinished, timeout=10000) as done:  # the next question is not stopped
        service.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    assert done.args[0].startswith("Yes")


def test_bad_question_and_missing_model_are_reported(qtbot, service_for, tiny_lm):
    def broken(history):
        raise ModelLoadError("The language model SmolLM2-135M-Instruct is not installed: install it.")

    service = service_for(broken)
    with qtbot.waitSignal(service.failed, timeout=10000) as failed:
        service.start()
    assert "could not be loaded" in failed.args[0] and "install it" in failed.args[0]
    with qtbot.waitSignal(service.answerFinished, timeout=10000) as done:  # facts still come
        service.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    assert done.args[0] == "Yes, there is an anomaly at the top left (about 2.1% of the part)."
    with qtbot.waitSignal(service.failed, timeout=10000) as failed:
        service.ask("   ", ChatContext(make_result(FAIL)))
    assert "empty" in failed.args[0]


def test_tokens_reach_the_gui_thread_in_order_before_the_finished_answer(qtbot, service_for, tiny_tokenizer):
    lm = LanguageModel(SlowLM(tiny_tokenizer), tiny_tokenizer, "slow", torch.device("cpu"), torch.float32, "t")
    settings = DecodeSettings(max_new_tokens=400, max_sentences=100)
    service = service_for(lambda h: (ChatSession(lm, settings=settings), "sentences"))
    heard = []
    service.tokenReceived.connect(lambda t: heard.append(("token", t, threading.get_ident())))
    service.answerFinished.connect(lambda t: heard.append(("finished", t, threading.get_ident())))
    with qtbot.waitSignal(service.answerFinished, timeout=20000) as done:
        service.ask("What might it be?", ChatContext(make_result(FAIL)))
    answer = done.args[0]
    assert all(s in answer for s in SENTENCES)
    assert [h[0] for h in heard] == ["token"] * (len(SENTENCES) + 1) + ["finished"]  # the facts, then each one
    assert "".join(h[1] for h in heard[:-1]) == answer
    assert {h[2] for h in heard} == {threading.get_ident()}  # received in the GUI thread (queued)
