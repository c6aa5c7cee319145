"""Prompt learner shapes, map normalisation, persistence, and where its embeddings land in the LM input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.chat.prompt_learner import (
    MANIFEST_FILE,
    WEIGHTS_FILE,
    PromptLearner,
    PromptLearnerConfig,
    map_tensor,
    thumb_tensor,
)
from core.chat.prompting import IMG_END, IMG_START, build_input, build_training_batch, encode, render_prompt
from core.errors import ModelLoadError


def test_output_shape_and_scale():
    cfg = PromptLearnerConfig(hidden_size=48, embed_norm=0.25)
    learner = PromptLearner(cfg)
    thumbs = torch.rand(2, 3, 64, 64)
    empty = learner(torch.zeros(2, 1, 64, 64), thumbs)
    assert cfg.n_tokens == 11 and empty.shape == (2, 11, 48)
    rms = empty[:, :10].pow(2).mean(dim=-1).sqrt()  # an empty map: the base prompts at the embedding scale
    assert torch.allclose(rms, torch.full_like(rms, 0.25), rtol=0.01)
    defect = torch.zeros(2, 1, 64, 64)
    defect[:, :, 5:15, 5:15] = 2.5  # top left, 2.5x the threshold
    out = learner(defect, thumbs)
    change = (out - empty).detach().pow(2).mean(dim=-1).sqrt()[0]
    assert float(change[:10].max()) > 0.1  # the map's content is plainly visible to the LM
    assert float(change[0]) > float(change[8])  # more in the top-left cell's prompt than the bottom-right's
    assert sum(p.numel() for p in learner.parameters()) * 4 < 5e6  # small enough to ship


def test_map_is_normalised_by_the_threshold():
    amap = np.zeros((200, 300), np.float32)
    amap[10:20, 10:14] = 3.0  # a thin defect survives the max-pooling down to 64x64
    t = map_tensor(amap, threshold=1.5)
    assert t.shape == (1, 64, 64)
    assert float(t.max()) == pytest.approx(2.0)  # 3.0 / 1.5: above 1.0 means above the decision boundary
    assert float(map_tensor(np.full((8, 8), np.nan, np.float32), 1.0).max()) == 0.0
    with pytest.raises(ValueError):
        map_tensor(np.zeros((0,), np.float32), 1.0)
    thumb = thumb_tensor(np.full((40, 50), 255, np.uint8))
    assert thumb.shape == (3, 64, 64) and float(thumb.min()) == pytest.approx(1.0)
    assert float(thumb_tensor(None).mean()) == pytest.approx(0.5)


def test_prompts_are_spliced_between_the_markers(tiny_lm):
    model, tok = tiny_lm.model, tiny_lm.tokenizer
    prompts = torch.randn(11, 32) * 5
    inp = build_input(model, tok, "Is there a defect?", prompts, assistant_prefix="Yes,")
    start, end = inp.image_span
    assert end - start == 11
    assert torch.equal(inp.inputs_embeds[0, start:end], prompts)
    before, after = render_prompt(tok, "Is there a defect?")
    assert before.endswith(IMG_START) and after.startswith(IMG_END)
    embed = model.get_input_embeddings().weight
    ids_before = encode(tok, before)
    assert start == len(ids_before)
    assert torch.equal(inp.inputs_embeds[0, :start], embed[ids_before])
    ids_after = encode(tok, after) + encode(tok, "Yes,")
    assert torch.equal(inp.inputs_embeds[0, end:], embed[ids_after])
    assert tok.decode(ids_before[-3:]).endswith("<Img>") and tok.decode(ids_after[:4]).startswith("</Img>")
    assert "Is there a defect?" in tok.decode(ids_after) and tok.decode(ids_after).endswith("assistant\nYes,")
    no_image = build_input(model, tok, "hello?", None)
    assert no_image.image_span == (0, 0) and "<Img>" not in tok.decode(
        encode(tok, render_prompt(tok, "hi", (), False)[0])
    )


def test_training_batch_labels_cover_the_answer_only(tiny_lm):
    model, tok = tiny_lm.model, tiny_lm.tokenizer
    prompts = torch.randn(2, 11, 32)
    b = build_training_batch(model, tok, prompts, ["Is there a defect?", "Where?"], ["No.", "The top left."])
    assert b.inputs_embeds.shape[0] == 2 and b.attention_mask.shape == b.labels.shape
    for i, answer in enumerate(["No.", "The top left."]):
        s, e = b.image_spans[i]
        assert torch.equal(b.inputs_embeds[i, s:e], prompts[i])
        labelled = b.labels[i][b.labels[i] != -100].tolist()
        assert tok.decode(labelled[:-1]) == answer and labelled[-1] == tok.convert_tokens_to_ids("<|im_end|>")
    assert int(b.attention_mask[1].sum()) < b.attention_mask.shape[1]  # the shorter row is padded


def test_save_load_round_trip_and_errors(tmp_path):
    learner = PromptLearner(PromptLearnerConfig(hidden_size=32))
    learner.save(tmp_path, {"lm_id": "tiny"}, lora_state={"layers.0.q_proj.lora_a": torch.ones(2, 3)})
    loaded, manifest = PromptLearner.load(tmp_path, hidden_size=32)
    x = (torch.rand(1, 1, 64, 64), torch.rand(1, 3, 64, 64))
    assert torch.allclose(loaded(*x), learner.eval()(*x))
    assert manifest["lm_id"] == "tiny" and manifest["_lora_state"]["layers.0.q_proj.lora_a"].shape == (2, 3)
    with pytest.raises(ModelLoadError, match="hidden size 32"):
        PromptLearner.load(tmp_path, hidden_size=576)
    with pytest.raises(ModelLoadError, match="train-prompts"):
        PromptLearner.load(tmp_path / "nowhere")
    (tmp_path / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelLoadError, match="corrupt"):
        PromptLearner.load(tmp_path)
    (tmp_path / MANIFEST_FILE).write_text(json.dumps({"config": {"hidden_size": 32}})[:-3])
    with pytest.raises(ModelLoadError, match="corrupt"):
        PromptLearner.load(tmp_path)
