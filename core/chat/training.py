"""Training of the prompt learner (LM frozen; optional LoRA on q/v), with the LM loss on the answer tokens only."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.chat.generation import cache_kwarg, output_cache
from core.chat.grounding import Kind
from core.chat.lora import apply_lora
from core.chat.prompt_learner import PromptLearner, PromptLearnerConfig, embedding_rms
from core.chat.prompting import build_training_batch, encode
from core.chat.training_data import LOOKS_LIKE, QUESTIONS, Sample, answer_for, draw_question


@dataclass
class TrainConfig:
    steps: int = 180
    batch: int = 4
    lr: float = 5e-3
    lora: bool = False
    lora_rank: int = 4
    lora_alpha: float = 8.0
    seed: int = 0
    grid: int = 3


@dataclass
class TrainOutcome:
    learner: PromptLearner
    lora_state: dict[str, torch.Tensor]
    losses: list[float]
    held_out: dict[str, Any]
    held_out_before: dict[str, Any]
    seconds: float
    stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        tail = self.losses[-20:]
        return float(np.mean(tail)) if tail else float("nan")


class SharedPrefix:
    """The key/value cache of the prompt's opening (system turn + user header + "<Img>"), identical in every
    training example: computed once, so each step runs the LM only from the image prompts on."""

    def __init__(self, model: Any, tokenizer: Any):
        from core.chat.prompting import render_prompt

        base = getattr(model, model.base_model_prefix)
        ids = encode(tokenizer, render_prompt(tokenizer, "?")[0])
        self.length = len(ids)
        self.kw = cache_kwarg(model)
        with torch.no_grad():
            embed = model.get_input_embeddings()
            emb = embed(torch.tensor([ids], device=embed.weight.device))
            self.cache = output_cache(base(inputs_embeds=emb, use_cache=True))

    def expand(self, batch: int) -> Any:
        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(batch)
        return cache


def answer_loss(
    model: Any,
    batch: Any,
    prefix: SharedPrefix | None = None,
    labels: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Next-token cross-entropy on the labelled (answer) positions only; the vocabulary projection runs on those
    positions alone, which saves most of its cost. With ``prefix`` the shared opening is not run again."""
    hidden, labels = _hidden(model, batch, prefix, labels)
    target = labels[:, 1:]
    sel = target != -100
    logits = model.get_output_embeddings()(hidden[:, :-1][sel]).float()
    return F.cross_entropy(logits, target[sel], reduction=reduction)


def _stack(samples: Sequence[Sample], device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.stack([s.map for s in samples]).to(device), torch.stack([s.thumb for s in samples]).to(device))


def _first_token(tokenizer: Any, word: str) -> int:
    return encode(tokenizer, word)[0]


def digit_token_ids(tokenizer: Any) -> torch.Tensor:
    """Ids of tokens that spell a digit: the chat never lets the model state numbers (they come from the
    measurement), so training does not spend its loss on them."""
    vocab = tokenizer.get_vocab()
    return torch.tensor(
        sorted(i for t, i in vocab.items() if any(c.isdigit() for c in tokenizer.convert_tokens_to_string([t])))
    )


def _mask_digits(labels: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
    if digits.numel():
        labels = labels.masked_fill(torch.isin(labels, digits.to(labels.device)), -100)
    return labels


FIRST_TOKEN_WEIGHT = 4.0


def _answer_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-token loss weights in answer_loss's order: the answer's first token ("Yes"/"No"/"The": it carries the
    verdict) counts FIRST_TOKEN_WEIGHT times, the rest once."""
    answer = labels != -100
    first = answer & (answer.long().cumsum(dim=1) == 1)
    weights = 1.0 + (FIRST_TOKEN_WEIGHT - 1.0) * first.float()
    return weights[:, 1:][answer[:, 1:]]


def _hidden(
    model: Any, b: Any, prefix: SharedPrefix | None, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Last hidden states and the labels aligned with them (the shared prefix cut off when used)."""
    base = getattr(model, model.base_model_prefix)
    labels = b.labels if labels is None else labels
    if prefix is None:
        return base(inputs_embeds=b.inputs_embeds, attention_mask=b.attention_mask).last_hidden_state, labels
    p = prefix.length
    out = base(
        inputs_embeds=b.inputs_embeds[:, p:],
        attention_mask=b.attention_mask,
        use_cache=True,
        **{prefix.kw: prefix.expand(b.inputs_embeds.shape[0])},
    )
    return out.last_hidden_state, labels[:, p:]


@torch.no_grad()
def evaluate(
    model: Any,
    tokenizer: Any,
    learner: PromptLearner,
    samples: Sequence[Sample],
    batch: int = 8,
    prefix: SharedPrefix | None = None,
    kinds_too: bool = True,
) -> dict[str, Any]:
    """Held-out figures: loss on all question kinds, the model's own yes/no accuracy (first answer token, no
    forced sentence) and how often it names the planted defect kind best among the candidates."""
    learner.eval()
    device = model.get_input_embeddings().weight.device
    yes, no = _first_token(tokenizer, "Yes"), _first_token(tokenizer, "No")
    losses, correct, total = [], 0, 0
    kind_correct, kind_total = 0, 0
    kinds = list(QUESTIONS)
    for i in range(0, len(samples), batch):
        chunk = list(samples[i : i + batch])
        maps, thumbs = _stack(chunk, device)
        prompts = learner(maps, thumbs)
        # loss over the question kinds, round robin
        qa = [
            (QUESTIONS[kinds[(i + j) % len(kinds)]][0], answer_for(s, kinds[(i + j) % len(kinds)]))
            for j, s in enumerate(chunk)
        ]
        b = build_training_batch(model, tokenizer, prompts, [q for q, _ in qa], [a for _, a in qa])
        losses.append(float(answer_loss(model, b, prefix)))
        # yes/no from the model alone
        q = QUESTIONS[Kind.YES_NO][0]
        b = build_training_batch(
            model, tokenizer, prompts, [q] * len(chunk), [answer_for(s, Kind.YES_NO) for s in chunk]
        )
        hidden, labels = _hidden(model, b, prefix)
        for j, s in enumerate(chunk):
            first = int((labels[j] != -100).nonzero()[0])
            logits = model.get_output_embeddings()(hidden[j, first - 1])
            said_yes = bool(logits[yes] > logits[no])
            correct += int(said_yes == s.defective)
            total += 1
        # defect kind, among the candidate descriptions
        defective = [(j, s) for j, s in enumerate(chunk) if s.defective and s.kind in LOOKS_LIKE]
        if defective and kinds_too:
            names = list(LOOKS_LIKE)
            q = QUESTIONS[Kind.WHAT][0]
            rows_p, rows_q, rows_a = [], [], []
            for j, s in defective:
                head = answer_for(s, Kind.WHAT).rsplit(" It looks like", 1)[0]
                for name in names:
                    rows_p.append(prompts[j])
                    rows_q.append(q)
                    rows_a.append(f"{head} {LOOKS_LIKE[name]}")
            b = build_training_batch(model, tokenizer, torch.stack(rows_p), rows_q, rows_a)
            tok_loss = answer_loss(model, b, prefix, reduction="none")
            counts = (b.labels[:, 1:] != -100).sum(dim=1).tolist()
            per_row = [float(t.sum()) for t in torch.split(tok_loss, counts)]
            for k, (_j, s) in enumerate(defective):
                scores = per_row[k * len(names) : (k + 1) * len(names)]
                kind_correct += int(names[int(np.argmin(scores))] == s.kind)
                kind_total += 1
    return {
        "loss": round(float(np.mean(losses)), 4) if losses else None,
        "yes_no_accuracy": round(correct / total, 4) if total else None,
        "kind_accuracy": round(kind_correct / kind_total, 4) if kind_total else None,
        "samples": total,
        "defective": sum(int(s.defective) for s in samples),
        "kind_samples": kind_total,
    }


def train_prompt_learner(
    model: Any,
    tokenizer: Any,
    train: Sequence[Sample],
    held_out: Sequence[Sample],
    config: TrainConfig,
    progress: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainOutcome:
    """Train a new prompt learner for ``model`` (frozen; LoRA adapters added in place when config.lora)."""
    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    embed = model.get_input_embeddings()
    device = embed.weight.device
    for p in model.parameters():
        p.requires_grad_(False)
    learner = PromptLearner(
        PromptLearnerConfig(
            hidden_size=int(model.config.hidden_size), grid=config.grid, embed_norm=embedding_rms(embed)
        )
    ).to(device)
    lora_params = apply_lora(model, config.lora_rank, config.lora_alpha) if config.lora else {}
    prefix = SharedPrefix(model, tokenizer)
    digits = digit_token_ids(tokenizer)
    before = evaluate(model, tokenizer, learner, held_out, prefix=prefix, kinds_too=False) if held_out else {}
    params: list[dict[str, Any]] = [{"params": list(learner.parameters()), "lr": config.lr}]
    if lora_params:
        params.append({"params": list(lora_params.values()), "lr": config.lr / 2})
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    warmup = max(1, config.steps // 20)

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, config.steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    model.train(False)
    losses: list[float] = []
    stopped = False
    order = rng.permutation(len(train))
    pos = 0
    for step in range(config.steps):
        if should_stop and should_stop():
            stopped = True
            break
        learner.train()
        idx = []
        for _ in range(config.batch):
            if pos >= len(order):
                order, pos = rng.permutation(len(train)), 0
            idx.append(int(order[pos]))
            pos += 1
        chunk = [train[i] for i in idx]
        qa = [draw_question(s, rng) for s in chunk]
        maps, thumbs = _stack(chunk, device)
        prompts = learner(maps, thumbs)
        b = build_training_batch(model, tokenizer, prompts, [q for q, _ in qa], [a for _, a in qa])
        labels = _mask_digits(b.labels, digits)
        per_token = answer_loss(model, b, prefix, labels=labels, reduction="none")
        weights = _answer_weights(labels)
        loss = (per_token * weights).sum() / weights.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in params for p in g["params"]], 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress:
            progress(step + 1, losses[-1])
    after = evaluate(model, tokenizer, learner, held_out, prefix=prefix) if held_out else {}
    lora_state = {k: v.detach().cpu().clone() for k, v in lora_params.items()}
    for p in lora_params.values():
        p.requires_grad_(False)
    learner.eval()
    return TrainOutcome(
        learner, lora_state, losses, after, before, time.perf_counter() - t0, stopped, config=dict(config.__dict__)
    )
