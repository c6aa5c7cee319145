"""One unsaved inspection as plain files that cannot execute anything when read back.

An outcome becomes a JSON document (every field the record needs: verdict, probability, score, threshold,
regions, timings, encoder and calibration ids, the inspection's time) and three image files beside it: the frame
as PNG, the colour heatmap as RGBA PNG and the anomaly map as a compressed NumPy archive read with
``allow_pickle=False``. The JSON names no paths (the files are found from its own name) and keeps the SHA-256 of
each file, so a damaged or swapped file is refused rather than recorded.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.result import InspectionResult, Region
from line.capture.mailbox import Frame
from line.outcome import InspectionOutcome

FORMAT = "inspection-station/unsaved-outcome"
VERSION = 1
FRAME_SUFFIX = ".frame.png"
HEATMAP_SUFFIX = ".heatmap.png"
MAP_SUFFIX = ".map.npz"
DATA_SUFFIXES = (FRAME_SUFFIX, HEATMAP_SUFFIX, MAP_SUFFIX)
MAX_JSON_BYTES = 1_000_000  # a real entry is a few kB; anything larger is not ours


class SpoolFormatError(ValueError):
    """A spool entry that is not a well-formed unsaved outcome (it is quarantined, never recorded)."""


@dataclass(frozen=True)
class EncodedOutcome:
    document: bytes  # the JSON, UTF-8
    files: dict[str, bytes]  # suffix -> bytes of that file


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _png(array: np.ndarray, channels: int, what: str) -> bytes:
    array = np.asarray(array)
    if array.ndim == 2 and channels == 3:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != channels:
        raise ValueError(f"the {what} is {array.dtype} {array.shape}, expected uint8 with {channels} channels")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _npz(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, map=np.ascontiguousarray(array, dtype=np.float32))
    return buf.getvalue()


def _plain(value: Any) -> Any:
    """``value`` when it is plain JSON (the result's free-form ``extra``), else None."""
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return None
    return value


def encode(outcome: InspectionOutcome) -> EncodedOutcome:
    """The JSON document and image files of ``outcome``."""
    r, f = outcome.result, outcome.frame
    files = {
        FRAME_SUFFIX: _png(f.image, 3, "frame"),
        HEATMAP_SUFFIX: _png(outcome.heatmap_rgba, 4, "heatmap"),
        MAP_SUFFIX: _npz(r.anomaly_map),
    }
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "finished_at": float(outcome.finished_at),  # the inspection's own time (Unix seconds), stored as its row's
        "latency_ms": float(outcome.latency_ms),
        "product_id": int(outcome.product_id),
        "product_name": str(outcome.product_name),
        "part_id": outcome.part_id,  # the PLC's part id (line runner); None for the window's inspections
        "operator": outcome.operator,  # who was logged in at the window; "" for the line runner
        "frame": {
            "index": int(f.index),
            "source": str(f.source),
            "kind": str(f.kind),
            "label": f.label,
            "timestamp": float(f.timestamp),
        },
        "result": {
            "verdict": str(r.verdict),
            "probability": float(r.probability),
            "score": float(r.score),
            "threshold": float(r.threshold),
            "regions": [
                {
                    "bbox": [int(v) for v in g.bbox],
                    "area_pct": float(g.area_pct),
                    "location": str(g.location),
                    "peak": float(g.peak),
                    "centroid": [float(v) for v in g.centroid],
                }
                for g in r.regions
            ],
            "timings_ms": {str(k): float(v) for k, v in r.timings_ms.items()},
            "encoder_id": str(r.encoder_id),
            "calibration_id": str(r.calibration_id),
            "overridden": bool(r.overridden),
            "image_size": [int(v) for v in r.image_size],
            "extra": _plain(r.extra) or {},
        },
        "files": {suffix: _sha(data) for suffix, data in files.items()},
    }
    return EncodedOutcome(json.dumps(doc, indent=1).encode("utf-8"), files)


# -- reading back ----------------------------------------------------------------------------------------------


def _get(d: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise SpoolFormatError(f"missing field {key!r}")
    value = d[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SpoolFormatError(f"field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _number(d: Any, key: str) -> float:
    value = _get(d, key, float)
    if not math.isfinite(value):
        raise SpoolFormatError(f"field {key!r} is {value}")
    return float(value)


def _region(d: Any) -> Region:
    bbox = _get(d, "bbox", list)
    centroid = _get(d, "centroid", list)
    if len(bbox) != 4 or len(centroid) != 2 or not all(isinstance(v, (int, float)) for v in bbox + centroid):
        raise SpoolFormatError("a region's bbox or centroid is malformed")
    return Region(
        bbox=tuple(int(v) for v in bbox),  # type: ignore[arg-type]
        area_pct=_number(d, "area_pct"),
        location=_get(d, "location", str),
        peak=_number(d, "peak"),
        centroid=(float(centroid[0]), float(centroid[1])),
    )


def _read_png(data: bytes, mode: str, what: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG" or img.mode != mode:
                raise SpoolFormatError(f"the {what} is not a {mode} PNG ({img.format} {img.mode})")
            return np.array(img, dtype=np.uint8)
    except SpoolFormatError:
        raise
    except Exception as exc:
        raise SpoolFormatError(f"the {what} cannot be decoded: {exc}") from exc


def _read_map(data: bytes) -> np.ndarray:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            amap = np.asarray(archive["map"])
    except Exception as exc:
        raise SpoolFormatError(f"the anomaly map cannot be read: {exc}") from exc
    if amap.ndim != 2 or amap.dtype != np.float32:
        raise SpoolFormatError(f"the anomaly map has shape {amap.shape} and type {amap.dtype}")
    return amap


def decode(document: bytes, files: dict[str, bytes]) -> InspectionOutcome:
    """The outcome of a JSON document and its files; raises SpoolFormatError for anything malformed."""
    if len(document) > MAX_JSON_BYTES:
        raise SpoolFormatError(f"the document is {len(document)} bytes, too large")
    try:
        doc = json.loads(document.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpoolFormatError(f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise SpoolFormatError("not an unsaved-outcome document of this station (format or version)")
    sums = _get(doc, "files", dict)
    for suffix in DATA_SUFFIXES:
        if suffix not in files:
            raise SpoolFormatError(f"its {suffix} file is missing")
        if sums.get(suffix) != _sha(files[suffix]):
            raise SpoolFormatError(f"its {suffix} file does not match the recorded SHA-256")
    image = _read_png(files[FRAME_SUFFIX], "RGB", "frame")
    heat = _read_png(files[HEATMAP_SUFFIX], "RGBA", "heatmap")
    amap = _read_map(files[MAP_SUFFIX])
    if heat.shape[:2] != image.shape[:2]:
        raise SpoolFormatError("the heatmap and the frame differ in size")

    fr, res = _get(doc, "frame", dict), _get(doc, "result", dict)
    label = fr.get("label")
    if label is not None and not isinstance(label, str):
        raise SpoolFormatError("field 'label' has the wrong type")
    size = _get(res, "image_size", list)
    timings = _get(res, "timings_ms", dict)
    if len(size) != 2 or not all(isinstance(v, int) for v in size):
        raise SpoolFormatError("field 'image_size' is malformed")
    if not all(isinstance(v, (int, float)) for v in timings.values()):
        raise SpoolFormatError("field 'timings_ms' is malformed")
    extra = res.get("extra", {})
    result = InspectionResult(
        verdict=_get(res, "verdict", str),
        probability=_number(res, "probability"),
        score=_number(res, "score"),
        threshold=_number(res, "threshold"),
        anomaly_map=amap,
        regions=[_region(g) for g in _get(res, "regions", list)],
        timings_ms={str(k): float(v) for k, v in timings.items()},
        encoder_id=_get(res, "encoder_id", str),
        calibration_id=_get(res, "calibration_id", str),
        overridden=_get(res, "overridden", bool),
        image_size=(size[0], size[1]),
        extra=extra if isinstance(extra, dict) else {},
    )
    frame = Frame(
        image=image,
        index=_get(fr, "index", int),
        source=_get(fr, "source", str),
        kind=_get(fr, "kind", str),
        label=label,
        timestamp=_number(fr, "timestamp"),
    )
    return InspectionOutcome(
        frame=frame,
        product_id=_get(doc, "product_id", int),
        product_name=_get(doc, "product_name", str),
        result=result,
        heatmap_rgba=heat,
        latency_ms=_number(doc, "latency_ms"),
        finished_at=_number(doc, "finished_at"),
        part_id=_part_id(doc),
        operator=_operator(doc),
    )


def _part_id(doc: dict[str, Any]) -> str | None:
    """The entry's part id: absent (older entries) or null is None, anything but a short string is refused."""
    value = doc.get("part_id")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 100:
        raise SpoolFormatError("field 'part_id' is malformed")
    return value


def _operator(doc: dict[str, Any]) -> str:
    """Who was logged in: absent (older entries) is "", anything but a short string is refused."""
    value = doc.get("operator", "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 100:
        raise SpoolFormatError("field 'operator' is malformed")
    return value


__all__ = ["DATA_SUFFIXES", "FORMAT", "VERSION", "EncodedOutcome", "SpoolFormatError", "decode", "encode"]
