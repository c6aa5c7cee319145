"""A scripted language model for the chat tests: it writes SENTENCES (then repeats them, which the chat does not
show, so an answer ends by itself), 30 ms per token, so that a test can stop an answer between two tokens."""

from __future__ import annotations

import time
from types import SimpleNamespace

import torch
from torch import nn

SENTENCES = [
    "It looks like a scratch.",
    "It may be a dent.",
    "Check the part again.",
    "Please look at the left edge.",
    "It looks like a spot or stain.",
    "It may be a crack.",
    "Look at the top left.",
    "It looks like a misplaced patch of material.",
]


class SlowLM(nn.Module):
    """Writes SENTENCES, then again (the repeats are not shown, so the answer ends), 30 ms per token."""

    def __init__(self, tokenizer):
        super().__init__()
        self.ids = tokenizer(" " + " ".join(SENTENCES), add_special_tokens=False)["input_ids"]
        self.vocab = len(tokenizer)
        self.embed = nn.Embedding(self.vocab, 8)
        self.config = SimpleNamespace(hidden_size=8)

    def get_input_embeddings(self):
        return self.embed

    def forward(self, input_ids=None, inputs_embeds=None, past_key_values=None, use_cache=True, **kw):
        time.sleep(0.03)
        step = 0 if past_key_values is None else past_key_values + 1
        logits = torch.full((1, 1, self.vocab), -10.0)
        logits[0, 0, self.ids[step % len(self.ids)]] = 10.0
        return SimpleNamespace(logits=logits, past_key_values=step)
