"""Open the chat: the language model (cached), the shipped prompt learner for it, a ChatSession."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from core.chat.generation import DecodeSettings
from core.chat.history import HistoryQueries
from core.chat.lm_loader import LanguageModel, load_language_model
from core.chat.lora import load_lora
from core.chat.prompt_learner import PromptLearner
from core.chat.session import ChatSession
from core.errors import ModelLoadError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
PROMPT_LEARNER_ROOT = ROOT / "resources" / "prompt_learner"


def prompt_learner_dir(lm_id: str) -> Path:
    """Where the prompt learner for ``lm_id`` lives ($INSPECTION_PROMPT_LEARNER overrides)."""
    override = os.environ.get("INSPECTION_PROMPT_LEARNER")
    return Path(override) if override else PROMPT_LEARNER_ROOT / lm_id


def load_prompt_learner(
    lm: LanguageModel, folder: Path | None = None
) -> tuple[PromptLearner | None, dict[str, Any] | None, str | None]:
    """(learner, manifest, warning). A missing or unusable learner is not fatal: the chat then runs without
    image prompts and the warning says how to get one. LoRA adapters in the file are applied to ``lm.model``."""
    folder = folder or prompt_learner_dir(lm.lm_id)
    try:
        learner, manifest = PromptLearner.load(folder, hidden_size=lm.hidden_size)
        lora_state = manifest.pop("_lora_state", {})
        if lora_state:
            cfg = manifest.get("training", {})
            load_lora(lm.model, lora_state, int(cfg.get("lora_rank", 4)), float(cfg.get("lora_alpha", 8.0)))
    except (ModelLoadError, ValueError) as exc:
        msg = f"{exc} The chat answers without image prompts until then."
        log.warning("%s", msg)
        return None, None, msg
    learner.to(lm.device)
    return learner, manifest, None


def open_chat(
    history: HistoryQueries | None = None,
    lm_path: str | os.PathLike[str] | None = None,
    device: str = "auto",
    settings: DecodeSettings | None = None,
    cache_dir: Path | None = None,
) -> tuple[ChatSession, dict[str, Any]]:
    """Load everything the chat needs once; returns the session and a JSON-ready description of what loaded."""
    lm = load_language_model(lm_path, device=device, cache_dir=cache_dir)
    learner, _manifest, warning = load_prompt_learner(lm)
    info = {
        "lm_id": lm.lm_id,
        "lm_source": lm.source,
        "device": str(lm.device),
        "dtype": str(lm.dtype).replace("torch.", ""),
        "load_s": round(lm.load_seconds, 2),
        "from_cache": lm.from_cache,
        "int8": lm.quantized,
        "prompt_learner": None if learner is None else str(prompt_learner_dir(lm.lm_id)),
        "warning": warning,
    }
    return ChatSession(lm, learner, history=history, settings=settings), info
