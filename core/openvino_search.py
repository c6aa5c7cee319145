"""The nearest-patch search's matrix product run by OpenVINO on the CPU (core/search.py's :class:`Similarity`).

Beside the OpenVINO encoder, torch's own pool has half the cores (ADR 0008: two pools that each want every core wait
on each other), so torch's search ran on one core of two. OpenVINO's pool has them all and is idle while the search
runs (the encoder and the search take turns in one thread), so the same product runs there at every core: on the
2-core development machine 7.6 ms against 15.7 ms for a 384-px frame's 2,304 patches against a 1,536-patch memory
(docs/benchmarks.md, "The search on OpenVINO"). f32 throughout, as the encoder: the values agree with torch's to
float rounding (tests/core/test_openvino_search.py).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from core.errors import ModelLoadError


class OpenVinoSimilarity:
    """Best similarity of each query row, by two small compiled graphs: MatMul + ReduceMax, and the same with a
    bias added before the maximum (the self-similarity search's window). Thread-confined, as the inspector."""

    name = "openvino"

    def __init__(self, threads: int | None = None) -> None:
        try:
            import openvino as ov
            import openvino.opset13 as ops
        except ImportError:
            raise ModelLoadError("OpenVINO is not installed; run `make venv`") from None
        config = {
            "INFERENCE_NUM_THREADS": int(threads or os.cpu_count() or 1),
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",  # see core/openvino_encoder.py: no bfloat16 on CPUs that have it
        }
        axis = np.array([1], dtype=np.int64)
        core = ov.Core()
        self._ov, self._ops, self._core, self._config = ov, ops, core, config
        self._tops: dict[int, Any] = {}  # k -> the MatMul + TopK request, compiled at its first use
        q = ops.parameter([-1, -1], np.float32, name="query")
        k = ops.parameter([-1, -1], np.float32, name="keys_t")
        plain = ov.Model([ops.reduce_max(ops.matmul(q, k, False, False), axis, False)], [q, k], "best_similarity")
        q2 = ops.parameter([-1, -1], np.float32, name="query")
        k2 = ops.parameter([-1, -1], np.float32, name="keys_t")
        b2 = ops.parameter([-1, -1], np.float32, name="bias")
        biased = ov.Model(
            [ops.reduce_max(ops.add(ops.matmul(q2, k2, False, False), b2), axis, False)], [q2, k2, b2], "biased"
        )
        try:
            self._plain: Any = core.compile_model(plain, "CPU", config).create_infer_request()
            self._biased: Any = core.compile_model(biased, "CPU", config).create_infer_request()
        except RuntimeError as exc:
            raise ModelLoadError(f"OpenVINO could not compile the search: {str(exc).splitlines()[0]}") from None

    def best(self, query: torch.Tensor, keys_t: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        inputs = [_array(query), _array(keys_t)]
        request = self._plain
        if bias is not None:
            inputs.append(_array(bias))
            request = self._biased
        out = request.infer(inputs, share_inputs=True)[0]
        return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))

    def top(self, query: torch.Tensor, keys_t: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        request = self._tops.get(k)
        if request is None:
            ops = self._ops
            q = ops.parameter([-1, -1], np.float32, name="query")
            keys = ops.parameter([-1, -1], np.float32, name="keys_t")
            best = ops.topk(ops.matmul(q, keys, False, False), np.int64(k), 1, "max", "value", "i64")
            model = self._ov.Model([best.output(0), best.output(1)], [q, keys], f"top{k}")
            try:
                request = self._core.compile_model(model, "CPU", self._config).create_infer_request()
            except RuntimeError as exc:
                raise ModelLoadError(f"OpenVINO could not compile the search: {str(exc).splitlines()[0]}") from None
            self._tops[k] = request
        out = request.infer([_array(query), _array(keys_t)], share_inputs=True)
        values = torch.from_numpy(np.array(out[0], dtype=np.float32, copy=True))
        return values, torch.from_numpy(np.array(out[1], dtype=np.int64, copy=True))


def _array(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to(torch.float32).numpy())
