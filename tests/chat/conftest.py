"""Fixtures of the chat tests: a tiny random Llama with a tiny byte-level tokenizer built here, results, history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch

from core.chat.history import Counts
from core.chat.lm_loader import LanguageModel
from core.chat.training_data import LOOKS_LIKE, NORMAL_SENTENCE, QUESTIONS
from core.result import FAIL, PASS, InspectionResult, Region

CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "You are an inspection station. Answer about the part in the image.",
    "<Img> </Img> Yes, there is an anomaly at the top left (about 2.1% of the part).",
    "No, there is no anomaly; the part passes (defect probability 3%). The part fails.",
    "top left, top right, bottom left, bottom right, center, left, right, top, bottom",
    "How many rejects today? Defect rate this week. Compare today with last week. Yield per day.",
    "0 1 2 3 4 5 6 7 8 9 x y px % ( ) ; : , . ?",
    *LOOKS_LIKE.values(),
    NORMAL_SENTENCE,
    *[q for qs in QUESTIONS.values() for q in qs],
]


def make_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 3, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def make_model(vocab_size: int, seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        initializer_range=0.1,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    model = LlamaForCausalLM(config)
    model.eval()
    return model


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tokenizer()


@pytest.fixture
def tiny_lm(tiny_tokenizer) -> LanguageModel:
    model = make_model(len(tiny_tokenizer))
    for p in model.parameters():
        p.requires_grad_(False)
    return LanguageModel(model, tiny_tokenizer, "tiny-llama", torch.device("cpu"), torch.float32, "test")


@pytest.fixture
def tiny_lm_folder(tmp_path, tiny_tokenizer) -> Path:
    folder = tmp_path / "tiny-llama"
    make_model(len(tiny_tokenizer)).save_pretrained(str(folder))
    tiny_tokenizer.save_pretrained(str(folder))
    return folder


def make_result(
    verdict: str = FAIL,
    regions: list[Region] | None = None,
    probability: float | None = None,
    size: tuple[int, int] = (300, 200),
) -> InspectionResult:
    w, h = size
    amap = np.full((h, w), 0.2, np.float32)
    if regions is None:
        regions = (
            [Region(bbox=(10, 12, 60, 40), area_pct=2.1, location="top left", peak=2.4)] if verdict == FAIL else []
        )
    for r in regions:
        x0, y0, x1, y1 = r.bbox
        amap[y0:y1, x0:x1] = r.peak
    return InspectionResult(
        verdict=verdict,
        probability=probability if probability is not None else (0.93 if verdict == FAIL else 0.03),
        score=float(amap.max()),
        threshold=1.0,
        anomaly_map=amap,
        regions=regions,
        timings_ms={"total": 30.0},
        encoder_id="test",
        calibration_id="test",
        image_size=size,
    )


@pytest.fixture
def fail_result() -> InspectionResult:
    return make_result(FAIL)


@pytest.fixture
def pass_result() -> InspectionResult:
    return make_result(PASS)


UTC = UTC
NOW = datetime(2024, 5, 15, 14, 30, tzinfo=UTC)  # a Wednesday


class MemoryHistory:
    """In-memory HistoryQueries over (time, product, verdict) rows."""

    def __init__(self, rows: list[tuple[datetime, str, str]]):
        self.rows = rows
        self.calls: list[tuple] = []

    def product_names(self):
        return sorted({p for _, p, _ in self.rows})

    def counts(self, start, end, product=None):
        self.calls.append(("counts", start, end, product))
        sel = [v for t, p, v in self.rows if start <= t < end and (product is None or p == product)]
        return Counts(inspected=len(sel), rejected=sum(v == FAIL for v in sel))

    def daily_counts(self, start, end, product=None):
        self.calls.append(("daily", start, end, product))
        days: dict[date, list[str]] = {}
        for t, p, v in self.rows:
            if start <= t < end and (product is None or p == product):
                days.setdefault(t.date(), []).append(v)
        return [(d, Counts(len(vs), sum(v == FAIL for v in vs))) for d, vs in sorted(days.items())]


@pytest.fixture
def history() -> MemoryHistory:
    rows = []

    def add(day: datetime, product: str, passed: int, failed: int):
        for i in range(passed + failed):
            rows.append((day + timedelta(minutes=i), product, PASS if i < passed else FAIL))

    today = datetime(2024, 5, 15, 8, 0, tzinfo=UTC)
    add(today, "widget-a", 40, 3)  # today: widget-a 3 rejects of 43
    add(today, "gear b", 20, 1)  # today: gear b 1 reject of 21
    add(today - timedelta(days=1), "widget-a", 50, 5)  # yesterday (this week)
    add(today - timedelta(days=7), "widget-a", 90, 2)  # last week Wednesday
    add(today - timedelta(days=9), "widget-a", 60, 8)  # last week Monday
    add(datetime(2024, 5, 14, 23, 58, tzinfo=UTC), "gear b", 0, 2)  # yesterday, the last minutes before midnight
    return MemoryHistory(rows)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The tiny models are faster on one thread, and the shared CPU makes a second thread spin; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
