"""The chat's thread without Qt (line/chat/chat_thread.py): loads once in its own thread, streams tokens in order to
its listener, stops mid-answer, answers with the facts when the model cannot load, answers a question asked during
the load after it, and ends (waiting for a load it cannot interrupt) at shutdown."""

from __future__ import annotations

import logging
import sys
import threading
import time

import pytest
import torch

import line.chat.chat_thread as chat_thread
from core.chat.generation import DecodeSettings
from core.chat.lm_loader import LanguageModel
from core.chat.session import NO_INSPECTION, ChatSession
from core.errors import ModelLoadError
from core.result import FAIL, PASS
from line.chat.chat_thread import CHAT_NICE, ChatThread
from line.chat.context import ChatContext
from line.thread_priority import this_thread_nice
from tests.chat.conftest import make_result
from tests.chat.scripted_lm import SENTENCES, SlowLM

FACTS_FAIL = "Yes, there is an anomaly at the top left (about 2.1% of the part)."


class Recorder:
    """A ChatListener that keeps what it was told, in order, with the thread that told it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.threads: set[int] = set()
        self._changed = threading.Condition()

    def _add(self, kind: str, text: str) -> None:
        with self._changed:
            self.events.append((kind, text))
            self.threads.add(threading.get_ident())
            self._changed.notify_all()

    def model_ready(self, text: str) -> None:
        self._add("ready", text)

    def token(self, piece: str) -> None:
        self._add("token", piece)

    def answer_finished(self, text: str) -> None:
        self._add("finished", text)

    def failed(self, message: str) -> None:
        self._add("failed", message)

    def of(self, kind: str) -> list[str]:
        with self._changed:
            return [t for k, t in self.events if k == kind]

    def wait(self, kind: str, count: int = 1, timeout_s: float = 10.0) -> list[str]:
        with self._changed:
            ok = self._changed.wait_for(lambda: sum(k == kind for k, _ in self.events) >= count, timeout_s)
        assert ok, f"no {count} {kind!r} within {timeout_s} s: {self.events}"
        return self.of(kind)


@pytest.fixture
def chat_for():
    made: list[ChatThread] = []

    def make(factory, **kw) -> tuple[ChatThread, Recorder]:
        listener = Recorder()
        chat = ChatThread(listener, session_factory=factory, **kw)
        made.append(chat)
        return chat, listener

    yield make
    for chat in made:
        assert chat.shutdown()


def test_loads_once_in_its_thread_and_streams_the_tokens_in_order(chat_for, tiny_lm):
    loaded_in = []

    def factory(history):
        loaded_in.append(threading.get_ident())
        return ChatSession(tiny_lm, settings=DecodeSettings(max_new_tokens=6)), "tiny-llama"

    chat, heard = chat_for(factory)
    chat.load()
    assert heard.wait("ready") == ["tiny-llama"]
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    first = heard.wait("finished")[0]
    assert first.startswith("Yes, there is an anomaly at the top left")
    kinds = [k for k, _ in heard.events]
    assert kinds[0] == "ready" and kinds[-1] == "finished" and set(kinds[1:-1]) == {"token"}
    assert "".join(heard.of("token")) == first  # every token, in the order written
    chat.ask("Is there a defect?", ChatContext(make_result(PASS)))
    assert heard.wait("finished", 2)[1].startswith("No, there is no anomaly")
    chat.ask("Where is it?", None)
    assert heard.wait("finished", 3)[2] == NO_INSPECTION
    chat.load()  # the model stays warm: a second load does nothing
    chat.ask("Where is it?", None)
    heard.wait("finished", 4)
    assert loaded_in == [chat.ident] and chat.ident != threading.get_ident()
    assert heard.threads == {chat.ident}  # the listener hears it in the chat thread
    assert heard.of("ready") == ["tiny-llama"] and heard.of("failed") == []


def test_stop_ends_the_answer_mid_way_and_the_next_question_is_not_stopped(chat_for, tiny_tokenizer):
    lm = LanguageModel(SlowLM(tiny_tokenizer), tiny_tokenizer, "slow", torch.device("cpu"), torch.float32, "t")
    settings = DecodeSettings(max_new_tokens=400, max_sentences=100)
    chat, heard = chat_for(lambda h: (ChatSession(lm, settings=settings), "slow"))
    chat.ask("What might it be?", ChatContext(make_result(FAIL)))
    whole = heard.wait("finished")[0]  # unstopped: the facts, then every sentence once
    assert whole.startswith("The anomaly at the top left") and all(s in whole for s in SENTENCES)
    assert "".join(heard.of("token")) == whole  # sentence by sentence, in order
    tokens_before = len(heard.of("token"))
    chat.ask("What might it be?", ChatContext(make_result(FAIL)))
    heard.wait("token", tokens_before + 3)  # the facts and two of the model's sentences
    chat.stop_answer()  # from this thread, while the chat thread decodes
    stopped = heard.wait("finished", 2)[1]
    assert stopped.startswith("The anomaly at the top left") and SENTENCES[0] in stopped
    assert SENTENCES[-1] not in stopped  # ended before the last sentence
    assert "".join(heard.of("token")[tokens_before:]) == stopped  # what was written until the stop, in order
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))  # the next question is not stopped
    assert heard.wait("finished", 3)[2].startswith("Yes")


@pytest.mark.parametrize(
    "error, said",
    [
        (ModelLoadError("The language model SmolLM2-135M-Instruct is not installed: install it."), "install it."),
        (OSError("weights file truncated"), "(OSError: weights file truncated)"),
    ],
)
def test_a_model_that_cannot_load_gives_the_facts_only_session_and_a_failed_message(chat_for, error, said):
    def broken(history):
        raise error

    chat, heard = chat_for(broken)
    chat.load()
    message = heard.wait("failed")[0]
    assert "could not be loaded" in message and said in message and "measured facts only" in message
    assert chat.session is not None and chat.session.lm is None
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    assert heard.wait("finished")[0] == FACTS_FAIL
    chat.ask("   ", ChatContext(make_result(FAIL)))  # a question the session refuses: told, and the thread goes on
    assert "empty" in heard.wait("failed", 2)[1]
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    assert heard.wait("finished", 2)[1] == FACTS_FAIL
    assert heard.of("ready") == []


def test_a_question_asked_during_the_load_is_answered_after_it(chat_for):
    release = threading.Event()

    def slow_load(history):
        assert release.wait(10.0)
        return ChatSession(None, history=history), "slow fake model"

    chat, heard = chat_for(slow_load)
    chat.load()
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    time.sleep(0.2)
    assert heard.events == []  # still loading
    release.set()
    assert heard.wait("finished")[0] == FACTS_FAIL
    assert heard.events[0] == ("ready", "slow fake model")


def test_shutdown_joins_the_thread_and_drops_later_questions(chat_for):
    chat, heard = chat_for(lambda h: (ChatSession(None, history=h), "facts"))
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    heard.wait("finished")
    ident = chat.ident
    assert chat.is_running
    assert chat.shutdown(timeout_s=5.0)
    assert not chat.is_running and ident not in {t.ident for t in threading.enumerate()}
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))
    chat.load()
    time.sleep(0.2)
    assert not chat.is_running and heard.of("finished") == [FACTS_FAIL]
    assert chat.shutdown()  # again: nothing left to end


def test_shutdown_during_the_load_waits_for_it_saying_so_and_drops_the_queued_question(chat_for, monkeypatch, caplog):
    monkeypatch.setattr(chat_thread, "LOAD_WAIT_LOG_S", 0.1)
    ended = []

    def slow_load(history):
        time.sleep(1.0)
        ended.append(time.monotonic())
        return ChatSession(None, history=history), "slow fake model"

    chat, heard = chat_for(slow_load)
    chat.load()
    time.sleep(0.2)
    chat.ask("Is there a defect?", ChatContext(make_result(FAIL)))  # queued behind the load
    with caplog.at_level(logging.WARNING, logger="line.chat.chat_thread"):
        assert chat.shutdown(timeout_s=0.1)
    returned = time.monotonic()
    assert ended and ended[0] <= returned and not chat.is_running  # the load ended before shutdown returned
    waits = [r for r in caplog.records if "still loading" in r.getMessage()]
    assert len(waits) >= 2  # said every LOAD_WAIT_LOG_S while it waited
    assert heard.of("finished") == [] and heard.of("token") == []  # the queued question was not answered


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_the_chat_thread_runs_nicer_than_the_station_so_inspection_comes_first(chat_for):
    """An answer takes a core for seconds; the parts inspected meanwhile must not wait for the CPU behind it."""
    seen: list[int | None] = []

    def factory(history):
        seen.append(this_thread_nice())
        return ChatSession(None, history=history), "facts only"

    base = this_thread_nice()
    if base is None or base >= 19:
        pytest.skip("the tests run at the lowest priority already: nothing can be lower")
    chat, heard = chat_for(factory)
    chat.load()
    heard.wait("ready")
    assert seen == [min(19, base + CHAT_NICE)] and seen[0] > base
    assert this_thread_nice() == base  # the caller's own priority is untouched
    kept, heard_kept = chat_for(factory, nice=0)
    kept.load()
    heard_kept.wait("ready")
    assert seen[-1] == base
