"""Training data from simulated anomalies, and a few training steps that lower the answer loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.chat.grounding import Kind
from core.chat.lora import LoRALinear
from core.chat.training import TrainConfig, digit_token_ids, train_prompt_learner
from core.chat.training_data import MapSource, answer_for, build_samples, draw_question, fast_map, procedural_texture


@pytest.fixture(scope="module")
def samples():
    families = [[procedural_texture(f, s, side=96) for s in range(3)] for f in range(3)]
    return build_samples(families, 12, np.random.default_rng(0), MapSource(fast=True))


def test_samples_carry_consistent_truth(samples):
    assert any(s.defective for s in samples) and any(not s.defective for s in samples)
    for s in samples:
        assert s.map.shape == (1, 64, 64) and s.thumb.shape == (3, 64, 64)
        yes_no = answer_for(s, Kind.YES_NO)
        if s.defective:
            assert s.result.regions and float(s.map.max()) > 1.0  # the defect is above the decision boundary
            assert yes_no.startswith("Yes, there is") and "It looks like" in yes_no
        else:
            assert float(s.map.max()) < 1.0 and yes_no.startswith("No, there is no anomaly")
    q, a = draw_question(samples[0], np.random.default_rng(1))
    assert q.endswith("?") or q.endswith(".")
    assert a.split(".")[0] in a


def test_fast_map_without_defect_stays_below_threshold():
    rng = np.random.default_rng(3)
    assert all(fast_map(None, (40, 50), rng).max() < 1.0 for _ in range(5))
    mask = np.zeros((40, 50), bool)
    mask[5:10, 5:30] = True
    amap = fast_map(mask, (40, 50), rng)
    assert amap[7, 15] > 1.0 and amap[35, 45] < 1.0


def test_digits_are_found_in_the_vocabulary(tiny_tokenizer):
    ids = set(digit_token_ids(tiny_tokenizer).tolist())
    assert tiny_tokenizer.convert_tokens_to_ids("7") in ids
    assert tiny_tokenizer.convert_tokens_to_ids("Y") not in ids


def test_a_few_steps_lower_the_loss(tiny_lm, samples):
    outcome = train_prompt_learner(
        tiny_lm.model, tiny_lm.tokenizer, samples, samples[:6], TrainConfig(steps=40, batch=4, lr=5e-3)
    )
    assert len(outcome.losses) == 40
    assert outcome.held_out["loss"] < outcome.held_out_before["loss"] - 0.05
    assert 0.0 <= outcome.held_out["yes_no_accuracy"] <= 1.0
    assert not any(p.requires_grad for p in tiny_lm.model.parameters())  # the LM stayed frozen


def test_lora_adapters_train_on_q_and_v(tiny_lm, samples):
    outcome = train_prompt_learner(
        tiny_lm.model, tiny_lm.tokenizer, samples, [], TrainConfig(steps=3, batch=2, lr=1e-2, lora=True)
    )
    wrapped = [m for m in tiny_lm.model.modules() if isinstance(m, LoRALinear)]
    assert len(wrapped) == 4  # q and v of both layers
    assert set(outcome.lora_state) and all(k.endswith(("lora_a", "lora_b")) for k in outcome.lora_state)
    assert any(float(v.abs().sum()) > 0 for k, v in outcome.lora_state.items() if k.endswith("lora_b"))


def test_stop_request_ends_training_early(tiny_lm, samples):
    calls = []
    outcome = train_prompt_learner(
        tiny_lm.model,
        tiny_lm.tokenizer,
        samples,
        [],
        TrainConfig(steps=50, batch=2),
        progress=lambda step, loss: calls.append(step),
        should_stop=lambda: len(calls) >= 2,
    )
    assert outcome.stopped_early and len(outcome.losses) == 2
    assert torch.isfinite(torch.tensor(outcome.losses)).all()
