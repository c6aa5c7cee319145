"""The same EfficientNet-Lite features, run by OpenVINO on the CPU.

PyTorch's CPU kernels for the depthwise and 1x1 convolutions of this small network spend much of their time in
thread start-up and memory traffic, and they slow down by several times when anything else runs on the machine
(the window, the recorder, the chat model). OpenVINO (the runtime anomalib deploys with) runs the folded trunk
several times faster at the same working sizes and degrades gracefully under load (docs/benchmarks.md, "The encoder
runtime"). The features are the same function: the traced graph is the folded trunk of
:class:`core.encoder.EfficientNetLiteEncoder` with :func:`core.fused_trunk.pad_even`, and they agree with the torch
path to float rounding (tests/core/test_openvino_encoder.py), so the encoder id is the same and products built with
either runtime are used by the other.

The converted model is kept in the cache folder (``$INSPECTION_CACHE_DIR`` or the user cache) as OpenVINO IR, so
only the first start pays for the conversion.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.atomic import atomic_folder
from core.cache import cache_root
from core.encoder import EfficientNetLiteEncoder, join_scales
from core.errors import ModelLoadError
from core.fused_trunk import FusedTrunk, pad_even
from core.preprocess import GRID

log = logging.getLogger(__name__)

RUNTIME_ENV = "INSPECTION_ENCODER_RUNTIME"  # "torch" or "openvino"; unset = OpenVINO on a CPU where it is installed


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401 - only whether it imports
    except ImportError:
        return False
    return True


def torch_threads_beside_openvino() -> int:
    """torch's thread count next to the OpenVINO encoder: half the cores. Two thread pools that each want every
    core wait on each other: on 2 cores, with torch at 2 threads the search took 244-277 ms a frame where it took
    33-37 ms at 1 (ball_screw, 384 px, load average 3.5; docs/benchmarks.md, "The encoder runtime")."""
    return max(1, (os.cpu_count() or 2) // 2)


class _Traceable(nn.Module):
    """uint8 NHWC frames in, joined patch features out: what is traced, with no shape read anywhere."""

    def __init__(self, trunk: FusedTrunk, adapt: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.trunk = trunk
        self.adapt = adapt  # the learned feature adaptor (core/adaptor.py), traced into the graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        f8, f16 = self.trunk(x, pad=pad_even)
        return self.adapt(join_scales(f8, f16))


class OpenVinoEncoder:
    """:class:`core.encoder.Encoder` through OpenVINO's CPU plugin; frames of any size whose sides are multiples of
    16 (others, which the station never makes, go through the torch trunk)."""

    stride = 8

    def __init__(
        self, torch_encoder: EfficientNetLiteEncoder, threads: int | None = None, cache_dir: Path | None = None
    ):
        try:
            import openvino as ov
        except ImportError:
            raise ModelLoadError(
                "OpenVINO is not installed; run `make venv`, or set INSPECTION_ENCODER_RUNTIME=torch"
            ) from None
        self._torch = torch_encoder
        self.id = torch_encoder.id
        self.name = torch_encoder.name
        self.device = torch.device("cpu")
        self.threads = int(threads or os.cpu_count() or 1)  # its own pool, apart from torch's (see ADR 0008)
        self.runtime = f"openvino {ov.__version__.split('-')[0]}"
        model = self._load_or_convert(ov, cache_dir if cache_dir is not None else cache_root() / "encoder")
        core = ov.Core()
        # f32 everywhere: on a CPU with bfloat16 units (AVX512_BF16, AMX) OpenVINO would otherwise compute in
        # bfloat16, features then differ from torch's by about 1e-2 and a product's scores from one machine to
        # the next (measured on an AMD EPYC with AVX512_BF16: 0.014 against 1e-6 at f32)
        config = {
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        try:
            self._compiled: Any = core.compile_model(model, "CPU", config)
        except RuntimeError as exc:
            raise ModelLoadError(f"OpenVINO could not compile the encoder: {str(exc).splitlines()[0]}") from None
        self._request = self._compiled.create_infer_request()
        self._output = self._compiled.output(0)

    def _load_or_convert(self, ov: Any, cache_dir: Path) -> Any:
        version = ov.__version__.split("-")[0]
        folder = cache_dir / f"{self.id.replace('@', '-')}-ov{version}"
        xml = folder / "encoder.xml"
        if xml.is_file():
            try:
                return ov.Core().read_model(str(xml))
            except RuntimeError as exc:  # a damaged cache entry is converted again
                log.warning("the cached encoder %s is unreadable (%s); converting it again", folder, exc)
                shutil.rmtree(folder, ignore_errors=True)
        example = torch.zeros((1, 64, 64, 3), dtype=torch.uint8)
        # OpenVINO traces the module with TorchScript, which torch 2.13 marks deprecated (and warns about on every
        # call); torch.export gives the same graph but took 25 s against 5 s here, so the trace is kept.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\..*|core\..*")  # TracerWarning
            model = ov.convert_model(
                _Traceable(self._torch.trunk, self._torch.adapt),
                example_input=example,
                input=[ov.PartialShape([-1, -1, -1, 3])],
            )
        try:  # whole or not at all; where another process cached the same model first, its copy stays
            with atomic_folder(folder, complete=lambda found: (found / "encoder.xml").is_file()) as tmp:
                ov.save_model(model, str(tmp / "encoder.xml"), compress_to_fp16=False)
        except OSError as exc:  # a read-only or full cache costs the conversion at the next start, nothing else
            log.warning("the converted encoder was not cached in %s: %s", cache_dir, exc)
        return model

    def features(self, images: list[np.ndarray]) -> torch.Tensor:
        batch = np.ascontiguousarray(np.stack(images))
        if batch.shape[1] % GRID or batch.shape[2] % GRID:
            return self._torch.features(images)
        out = self._request.infer({0: batch})[self._output]
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))
