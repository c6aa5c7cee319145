"""The prompt learner (AnomalyGPT's design, scaled for a 2-core CPU).

It turns what the vision core measured into a few embeddings in the language model's hidden size, placed between
the ``<Img>`` and ``</Img>`` markers of the user's turn:

* a small conv net over the anomaly map (resized to 64x64 and divided by the product's threshold, so 1.0 is the
  decision boundary) whose output is max-pooled onto the 3x3 location grid: one prompt per grid cell (the cell's
  position is carried by a learned base prompt) plus one global prompt (how strong and how spread the anomaly is);
* a linear projection of a pooled feature of a 64x64 thumbnail of the frame (a tiny conv stem): the image's
  embedding.

Outputs are layer-normalised and scaled to the LM's token-embedding norm so they sit in the range the LM expects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.atomic import write_bytes_atomic, write_text_atomic
from core.errors import ModelLoadError

WEIGHTS_FILE = "prompt_learner.safetensors"
MANIFEST_FILE = "manifest.json"
MAP_CLIP = 4.0  # normalised map values above 4x the threshold carry no extra information


@dataclass(frozen=True)
class PromptLearnerConfig:
    hidden_size: int
    map_size: int = 64
    thumb_size: int = 64
    grid: int = 3  # prompts on a grid x grid layout (3x3 = the location words)
    width: int = 64  # channels of the last conv layer
    embed_norm: float = 1.0  # RMS of the LM's token embeddings: the scale of the outputs

    @property
    def n_map_prompts(self) -> int:
        return self.grid * self.grid + 1

    @property
    def n_tokens(self) -> int:
        """Embeddings placed between the markers: map prompts + the image embedding."""
        return self.n_map_prompts + 1


def _conv(cin: int, cout: int, stride: int, norm: bool = True) -> nn.Sequential:
    """3x3 conv + GELU. The map branch has no normalisation layer (it would erase how far above the threshold
    the map goes, the very thing the verdict depends on) and no bias, so an empty map gives zero features and
    the prompts' content grows with the anomaly rather than drowning in constant offsets."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=norm)]
    if norm:
        layers.append(nn.GroupNorm(4, cout))
    layers.append(nn.GELU())
    return nn.Sequential(*layers)


N_MAP_STATS = 5


def map_statistics(maps: torch.Tensor) -> torch.Tensor:
    """[B, 5] global facts of normalised maps: peak, mean, and the area above 0.5, 1 and 2 times the threshold."""
    flat = maps.flatten(1)
    return torch.stack(
        [
            flat.amax(1) / MAP_CLIP,
            flat.mean(1),
            (flat > 0.5).float().mean(1),
            (flat > 1.0).float().mean(1) * 10,
            (flat > 2.0).float().mean(1) * 10,
        ],
        dim=1,
    )


class PromptLearner(nn.Module):
    def __init__(self, config: PromptLearnerConfig):
        super().__init__()
        self.config = config
        w, h = config.width, config.hidden_size
        self.map_net = nn.Sequential(
            _conv(1, 16, 1, False), _conv(16, 32, 2, False), _conv(32, w, 2, False), _conv(w, w, 2, False)
        )
        self.map_global = nn.Sequential(
            nn.Linear(2 * w + N_MAP_STATS, w, bias=False), nn.GELU(), nn.Linear(w, w, bias=False)
        )
        self.map_proj = nn.Linear(w, h, bias=False)
        self.image_net = nn.Sequential(_conv(3, 16, 2), _conv(16, 32, 2), _conv(32, w, 2))
        self.image_proj = nn.Linear(w, h)
        self.base_prompts = nn.Parameter(torch.randn(config.n_tokens, h))
        self.norm = nn.LayerNorm(h, elementwise_affine=False)
        self.gain = nn.Parameter(torch.tensor(float(config.embed_norm)))
        self.content_gain = nn.Parameter(torch.tensor(self._initial_content_gain()))

    @torch.no_grad()
    def _initial_content_gain(self) -> float:
        """Scale so that a clear defect (a blob at twice the threshold) adds content as strong as a token
        embedding on top of the base prompts: the map's information is visible to the LM from step one."""
        s = self.config.map_size
        yy, xx = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
        blob = 2.0 * torch.exp(-((yy - s / 3) ** 2 + (xx - s / 2) ** 2) / (2 * (s / 10) ** 2))
        content = self._map_content(blob[None, None].float())
        rms = float(content.pow(2).mean().sqrt())
        return float(self.config.embed_norm) / max(rms, 1e-8)

    def _map_content(self, maps: torch.Tensor) -> torch.Tensor:
        g = self.config.grid
        fm = self.map_net(maps)  # [B, w, S/8, S/8]
        cells = F.adaptive_max_pool2d(fm, g).flatten(2).transpose(1, 2)  # [B, g*g, w]
        pooled = torch.cat([fm.amax(dim=(2, 3)), fm.mean(dim=(2, 3)), map_statistics(maps)], dim=1)
        glob = self.map_global(pooled).unsqueeze(1)  # [B, 1, w]
        out: torch.Tensor = self.map_proj(torch.cat([cells, glob], dim=1))  # [B, g*g+1, h]
        return out

    def forward(self, maps: torch.Tensor, thumbs: torch.Tensor) -> torch.Tensor:
        """maps: [B, 1, S, S] normalised anomaly maps; thumbs: [B, 3, T, T] in [0, 1] -> [B, n_tokens, hidden].

        Each token is a learned base prompt (normalised to the embedding scale) plus content: the map's content
        is added unnormalised, so an empty map adds nothing and a strong anomaly adds a lot."""
        base = self.norm(self.base_prompts) * self.gain
        map_tokens = self._map_content(maps) * self.content_gain  # [B, g*g+1, h]
        img = self.image_net((thumbs - 0.5) / 0.25).mean(dim=(2, 3))
        img_token = (self.norm(self.image_proj(img)) * self.gain).unsqueeze(1)  # [B, 1, h]
        out: torch.Tensor = torch.cat([map_tokens, img_token], dim=1) + base
        return out

    # -- inputs -------------------------------------------------------------------------------------------------

    def map_tensor(self, anomaly_map: np.ndarray, threshold: float) -> torch.Tensor:
        return map_tensor(anomaly_map, threshold, self.config.map_size)

    def thumb_tensor(self, frame: np.ndarray | None) -> torch.Tensor:
        return thumb_tensor(frame, self.config.thumb_size)

    # -- persistence --------------------------------------------------------------------------------------------

    def save(self, folder: Path, manifest: dict[str, Any], lora_state: dict[str, torch.Tensor] | None = None) -> None:
        """Weights (plus LoRA adapters under "lora.") and manifest; each file replaced atomically."""
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        state.update({f"lora.{k}": v.detach().cpu().contiguous() for k, v in (lora_state or {}).items()})
        manifest = dict(manifest, config=asdict(self.config))
        from safetensors.torch import save as to_bytes

        write_bytes_atomic(folder / WEIGHTS_FILE, to_bytes(state))
        write_text_atomic(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path, hidden_size: int | None = None) -> tuple[PromptLearner, dict[str, Any]]:
        """Weights + manifest from ``folder``; raises ModelLoadError when missing, corrupt or for another LM size."""
        from safetensors.torch import load_file

        wpath, mpath = folder / WEIGHTS_FILE, folder / MANIFEST_FILE
        if not wpath.is_file() or not mpath.is_file():
            raise ModelLoadError(
                f"No prompt learner in {folder}: train one with `python main.py train-prompts --out {folder}`."
            )
        try:
            manifest = json.loads(mpath.read_text())
            config = PromptLearnerConfig(**manifest["config"])
            state = load_file(str(wpath))
        except Exception as exc:
            raise ModelLoadError(
                f"The prompt learner in {folder} is corrupt ({exc.__class__.__name__}: {exc}): retrain it with "
                f"`python main.py train-prompts --out {folder}`."
            ) from exc
        if hidden_size is not None and config.hidden_size != hidden_size:
            raise ModelLoadError(
                f"The prompt learner in {folder} was trained for a language model of hidden size {config.hidden_size}, "
                f"not {hidden_size}: retrain it for this model with `python main.py train-prompts`."
            )
        learner = cls(config)
        own = {k: v for k, v in state.items() if not k.startswith("lora.")}
        try:
            learner.load_state_dict(own, strict=True)
        except RuntimeError as exc:
            raise ModelLoadError(
                f"The prompt learner weights in {folder} do not match its manifest: retrain with "
                "`python main.py train-prompts`."
            ) from exc
        learner.eval()
        manifest["_lora_state"] = {k[len("lora.") :]: v for k, v in state.items() if k.startswith("lora.")}
        return learner, manifest


def map_tensor(anomaly_map: np.ndarray, threshold: float, size: int = 64) -> torch.Tensor:
    """[1, size, size] float tensor: the map divided by the threshold (1.0 = decision boundary), clipped."""
    m = np.asarray(anomaly_map, dtype=np.float32)
    if m.ndim != 2 or m.size == 0:
        raise ValueError("the anomaly map must be a non-empty 2-D array")
    t = torch.from_numpy(np.ascontiguousarray(m))[None, None]
    t = F.adaptive_max_pool2d(t, size) if min(m.shape) >= size else F.interpolate(t, size=(size, size), mode="bilinear")
    t = t / max(float(threshold), 1e-6)
    return torch.nan_to_num(t, nan=0.0, posinf=MAP_CLIP).clamp(0.0, MAP_CLIP)[0]


def thumb_tensor(frame: np.ndarray | None, size: int = 64) -> torch.Tensor:
    """[3, size, size] float tensor in [0, 1] from an RGB/gray uint8 frame (mid-gray when there is none)."""
    if frame is None:
        return torch.full((3, size, size), 0.5)
    f = np.asarray(frame)
    if f.ndim == 2:
        f = np.repeat(f[..., None], 3, axis=2)
    f = f[..., :3].astype(np.float32) / 255.0
    t = torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None]
    return F.interpolate(t, size=(size, size), mode="area")[0]


def embedding_rms(embedding: nn.Embedding) -> float:
    w = embedding.weight.detach().float()
    return float(w.pow(2).mean(dim=1).sqrt().mean())
