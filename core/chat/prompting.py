"""Assemble the language model's input: chat template text + image prompts spliced between the image markers.

The user's turn reads ``<Img>[prompt embeddings]</Img> question``: the markers are ordinary text tokens, the prompt
learner's embeddings replace a placeholder between them. Everything before the placeholder and everything after it
are tokenised separately (the same way in training and at inference), so the spliced sequence is always
``before_ids + prompts + after_ids [+ assistant prefix ids]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

IMG_START = "<Img>"
IMG_END = "</Img>"
PLACEHOLDER = "\u0000IMAGE\u0000"
SYSTEM_PROMPT = "You are an inspection station. Answer about the part in the image."


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    content: str


# Chat-template tokens (<|im_start|>, <|im_end|>, <|endoftext|>, ...) and the image markers typed as text: the
# tokenizer would read them as the real special tokens, so a question could end its own turn and write a fake
# assistant or system turn (prompt injection).
_TEMPLATE_TOKENS = re.compile(r"<\|[^<>|\s]{0,40}\|>|</?img>", re.IGNORECASE)


def clean_text(text: str) -> str:
    """Drop control characters (and so any placeholder), chat-template tokens and image markers from text typed
    by a person."""
    kept = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    previous = None
    while previous != kept:  # "<|im_<|x|>end|>" must not become "<|im_end|>" once the inner one is gone
        previous, kept = kept, _TEMPLATE_TOKENS.sub(" ", kept)
    return kept.strip()


def render_prompt(
    tokenizer: Any, question: str, history: Sequence[Turn] = (), with_image: bool = True
) -> tuple[str, str]:
    """(text before the image prompts, text after them) of the whole prompt, ending with the assistant header.

    Without an image the first part is the whole prompt and the second is empty.
    """
    content = f"{IMG_START}{PLACEHOLDER}{IMG_END} {question}" if with_image else question
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    messages += [{"role": t.role, "content": t.content} for t in history]
    messages.append({"role": "user", "content": content})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not with_image:
        return text, ""
    before, after = text.split(PLACEHOLDER, 1)
    return before, after


def encode(tokenizer: Any, text: str) -> list[int]:
    if not text:
        return []
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def end_of_turn_ids(tokenizer: Any) -> set[int]:
    """Token ids that end the assistant's turn (eos and the chat template's end-of-message token)."""
    ids: set[int] = set()
    for tok in (tokenizer.eos_token, "<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "<|im_start|>"):
        if tok is None:
            continue
        tid = tokenizer.convert_tokens_to_ids(tok)
        if isinstance(tid, int) and tid >= 0 and tid != tokenizer.unk_token_id:
            ids.add(tid)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


@dataclass
class PromptInput:
    """One spliced prompt: embeddings for the LM plus where the image prompts sit."""

    inputs_embeds: torch.Tensor  # [1, T, H]
    image_span: tuple[int, int]  # [start, end) of the prompt embeddings; (0, 0) without an image
    n_tokens: int


def build_input(
    model: Any,
    tokenizer: Any,
    question: str,
    prompts: torch.Tensor | None,
    history: Sequence[Turn] = (),
    assistant_prefix: str = "",
) -> PromptInput:
    """Embeddings of the full prompt; ``prompts`` [N, H] (or None: no image) go between the markers.

    ``assistant_prefix`` is appended after the assistant header: the answer's forced first words.
    """
    embed = model.get_input_embeddings()
    device = embed.weight.device
    before, after = render_prompt(tokenizer, question, history, with_image=prompts is not None)
    before_ids = encode(tokenizer, before)
    after_ids = encode(tokenizer, after) + encode(tokenizer, assistant_prefix)
    parts = [embed(torch.tensor([before_ids], device=device))]
    start = len(before_ids)
    end = start
    if prompts is not None:
        parts.append(prompts.to(device=device, dtype=embed.weight.dtype).unsqueeze(0))
        end = start + prompts.shape[0]
    if after_ids:
        parts.append(embed(torch.tensor([after_ids], device=device)))
    embeds = torch.cat(parts, dim=1)
    return PromptInput(embeds, (start, end) if prompts is not None else (0, 0), embeds.shape[1])


@dataclass
class TrainingBatch:
    inputs_embeds: torch.Tensor  # [B, T, H]
    attention_mask: torch.Tensor  # [B, T]
    labels: torch.Tensor  # [B, T], -100 outside the answers
    image_spans: list[tuple[int, int]]


def build_training_batch(
    model: Any,
    tokenizer: Any,
    prompts: torch.Tensor,
    questions: Sequence[str],
    answers: Sequence[str],
) -> TrainingBatch:
    """Right-padded batch of spliced prompts followed by their answers; labels cover the answer tokens and the
    end-of-turn token only."""
    embed = model.get_input_embeddings()
    device = embed.weight.device
    eot = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if not isinstance(eot, int) or eot < 0 or eot == tokenizer.unk_token_id:
        eot = tokenizer.eos_token_id
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eot
    rows = []
    for q, a in zip(questions, answers, strict=False):
        before, after = render_prompt(tokenizer, q)
        b, f, ans = encode(tokenizer, before), encode(tokenizer, after), [*encode(tokenizer, a), eot]
        rows.append((b, f, ans))
    n = prompts.shape[1]
    length = max(len(b) + n + len(f) + len(a) for b, f, a in rows)
    seqs, masks, labels, spans = [], [], [], []
    for i, (b, f, ans) in enumerate(rows):
        pad = length - (len(b) + n + len(f) + len(ans))
        tail = torch.tensor(f + ans + [pad_id] * pad, device=device)
        seqs.append(
            torch.cat([embed(torch.tensor(b, device=device)), prompts[i].to(embed.weight.dtype), embed(tail)], dim=0)
        )
        used = length - pad
        masks.append(torch.tensor([1] * used + [0] * pad, device=device))
        labels.append(torch.tensor([-100] * (len(b) + n + len(f)) + ans + [-100] * pad, device=device))
        spans.append((len(b), len(b) + n))
    return TrainingBatch(torch.stack(seqs), torch.stack(masks), torch.stack(labels), spans)
