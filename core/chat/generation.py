"""Streaming, checked decoding from input embeddings.

The model continues the forced first sentence token by token (KV cache, greedy with a repetition penalty). Text is
released a sentence at a time: each finished sentence goes through a check (see grounding.check_sentence); a
rejected sentence is regenerated once by sampling from the same state, and if that fails too the answer ends there.
A thread-safe stop flag, read through a transformers StoppingCriteria, ends decoding between two tokens.
"""

from __future__ import annotations

import copy
import inspect
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList


class StopFlag:
    """Set from any thread (the UI's Stop button); read by the decoding loop between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()


class StopOnFlag(StoppingCriteria):
    def __init__(self, flag: StopFlag):
        self.flag = flag

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        # transformers annotates BoolTensor; torch.full is annotated as returning a plain Tensor
        return torch.full(  # type: ignore[return-value]
            (input_ids.shape[0],), self.flag.is_set(), dtype=torch.bool, device=input_ids.device
        )


@dataclass
class DecodeSettings:
    max_new_tokens: int = 40
    max_sentences: int = 2
    max_sentence_tokens: int = 32
    repetition_penalty: float = 1.3
    retry_temperature: float = 0.8
    retries: int = 1
    seed: int = 0


@dataclass
class DecodeReport:
    """What happened while decoding (for logs, tests and benchmarks)."""

    new_tokens: int = 0
    sentences: int = 0
    rejected: list[str] = field(default_factory=list)
    stopped: bool = False
    first_token_s: float | None = None  # seconds from the start of decoding to the first generated token
    decode_s: float = 0.0


_END_OF_SENTENCE = re.compile(r"[.!?](['\")\]]?)$")


def cache_kwarg(model: Any) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def output_cache(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


class _Stepper:
    """One forward pass per token on a KV cache, with snapshots to roll a sentence back."""

    def __init__(self, model: Any, inputs_embeds: torch.Tensor):
        self.model = model
        self.kw = cache_kwarg(model)
        out = model(inputs_embeds=inputs_embeds, use_cache=True)
        self.cache = output_cache(out)
        self.logits = out.logits[0, -1].float()

    def feed(self, token: int) -> None:
        ids = torch.tensor([[token]], device=self.logits.device)
        out = self.model(input_ids=ids, use_cache=True, **{self.kw: self.cache})
        self.cache = output_cache(out)
        self.logits = out.logits[0, -1].float()

    def snapshot(self) -> tuple[Any, torch.Tensor]:
        return copy.deepcopy(self.cache), self.logits.clone()

    def restore(self, snap: tuple[Any, torch.Tensor]) -> None:
        self.cache, self.logits = copy.deepcopy(snap[0]), snap[1].clone()


def _pick(logits: torch.Tensor, history: list[int], settings: DecodeSettings, gen: torch.Generator | None) -> int:
    scores = logits.clone()
    if history and settings.repetition_penalty != 1.0:
        idx = torch.tensor(sorted(set(history)), device=scores.device)
        vals = scores[idx]
        scores[idx] = torch.where(vals > 0, vals / settings.repetition_penalty, vals * settings.repetition_penalty)
    if gen is None:
        return int(scores.argmax())
    probs = torch.softmax(scores / settings.retry_temperature, dim=-1).cpu()
    return int(torch.multinomial(probs, 1, generator=gen))


def stream_checked(
    model: Any,
    tokenizer: Any,
    inputs_embeds: torch.Tensor,
    check: Callable[[str], bool | Any],
    end_ids: set[int],
    stop: StopFlag | None = None,
    settings: DecodeSettings | None = None,
    context_ids: list[int] | None = None,
    report: DecodeReport | None = None,
) -> Iterator[str]:
    """Yield accepted sentences (each with its leading space) continuing ``inputs_embeds``.

    ``check(sentence)`` returns something truthy (or an object with ``.ok``) for a sentence that may be shown.
    ``context_ids`` are the prompt's tail token ids, used for the repetition penalty only.
    """
    settings = settings or DecodeSettings()
    report = report if report is not None else DecodeReport()
    criteria = StoppingCriteriaList([StopOnFlag(stop or StopFlag())])
    t0 = time.perf_counter()
    with torch.inference_mode():
        stepper = _Stepper(model, inputs_embeds)
        history = list(context_ids or [])
        generated: list[int] = []
        shown: list[str] = []
        sentence: list[int] = []
        snap = stepper.snapshot()
        attempt = 0
        gen: torch.Generator | None = None

        def ok(text: str) -> bool:
            v = check(text)
            return bool(getattr(v, "ok", v))

        def stopped() -> bool:
            ids = torch.tensor([history + generated or [0]])
            return bool(criteria(ids, stepper.logits[None]).any())

        while True:
            if stopped():
                report.stopped = True
                break
            finished_turn = report.new_tokens >= settings.max_new_tokens
            token = None if finished_turn else _pick(stepper.logits, history + generated + sentence, settings, gen)
            text = tokenizer.decode(sentence, skip_special_tokens=True)
            piece = "" if token is None else tokenizer.decode([token], skip_special_tokens=True)
            ends_turn = token is None or token in end_ids or "\n" in piece
            sentence_done = (
                ends_turn
                or (_END_OF_SENTENCE.search(text.rstrip()) and piece[:1].isspace())
                or (len(sentence) >= settings.max_sentence_tokens)
            )
            if sentence_done and sentence:
                candidate = " " + " ".join(text.split())
                repeated = candidate.strip().lower() in (s.strip().lower() for s in shown)
                cut_off = finished_turn and not _END_OF_SENTENCE.search(text.rstrip())  # out of tokens mid-sentence
                if cut_off:
                    break
                if not repeated and ok(candidate.strip()):
                    shown.append(candidate)
                    generated += sentence
                    report.sentences += 1
                    yield candidate
                    sentence = []
                    snap = stepper.snapshot()
                    attempt, gen = 0, None
                    if report.sentences >= settings.max_sentences:
                        break
                else:
                    report.rejected.append(candidate.strip())
                    if attempt >= settings.retries or finished_turn:
                        break
                    attempt += 1
                    gen = torch.Generator().manual_seed(settings.seed + attempt)
                    stepper.restore(snap)
                    sentence = []
                    continue
            if ends_turn or token is None:
                break
            if report.first_token_s is None:
                report.first_token_s = time.perf_counter() - t0
            sentence.append(token)
            report.new_tokens += 1
            stepper.feed(token)
    report.decode_s = time.perf_counter() - t0
