"""A verdict with no hand-set threshold.

From the references alone the product learns two score distributions: normal (leave-one-out scores of each
reference against the others where there are a few; where there are many, a few references held out of the
memory; with a single reference, each half of it scored against a memory of the other half, which stands in for
another part; plus slightly disturbed copies of the references) and anomalous (the same disturbed copies with a
simulated defect). The decision threshold sits between the normal maximum and the lower quartile of the
simulated defects in log-score space (on the normal maximum where references were held out); with a single
reference, 40% of the way from the highest normal stand-in to the median simulated defect, less a fixed step, so
it may fall below the halves of the reference where those differ more than good parts do (``SINGLE_SHARE``, ADR
0009). A logistic curve through the threshold turns a score into a probability. An operator may override the
threshold; the override is recorded as such.

The same normal maps also say whether the frame's edge runs high on good parts (a CNN sees a cut-off pattern at the
edge that no reference patch matches: every good woven grid lit up along its border). Where it does, the outer band
of the map is weighted down by as much as the normals need (``edge_floor``); where it does not (a part whose edge
is where its defects are), the map is left as it is.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.errors import CalibrationError
from core.result import FAIL, PASS
from core.verdict_rule import toward_simulated

# Where the threshold sits between the highest normal score and the lower quartile of the simulated defects, log
# scale (several references; one reference: SINGLE_SHARE below). Disturbed copies of one reference vary far less
# than real parts, so with them alone the threshold goes most of the way up; leave-one-out scores carry real
# variation, so it stays a quarter of the way up. References held out of a memory that holds all the others
# (many references) score as real good parts do, so the threshold sits on their maximum. Chosen once on
# calibration studies and full evaluation runs (docs/benchmarks.md), never per product.
WEIGHT_DISTURBED_NORMALS = 0.9
WEIGHT_REAL_NORMALS = 0.25
# A single reference: its halves, scored against each other, differ more than two good parts do, so on some products
# every defect scores below them. The threshold goes a share of the way from the highest normal stand-in to the
# median simulated defect (of all of them, detectable or not), then down by a fixed step, in log-score space; below
# the highest stand-in where the simulated defects are subtle. Fitted on the five shared categories' 1-reference
# runs (tools/verdict_study.py, family "toward_simulated"), never per product. Refitted on the features of the
# learned adaptor (core/adaptor.py; rule version 7), each category scored with the adaptor fitted without it:
# leave-one-category-out balanced accuracy 0.816 (0.801 for 0.40 / -0.06 on the plain features, 0.748 for the
# quartile rule above, which single references used before; docs/benchmarks.md, "A learned feature adaptor").
SINGLE_SHARE = 0.65
SINGLE_OFFSET = -0.12
WEIGHT_HELD_OUT_NORMALS = 0.0
HELD_OUT_METHOD = "held-out+jitter+simulated"
ANOMALY_QUANTILE = 0.25
# Several references (leave-one-out normals): the threshold never lies above the median simulated defect. Where the
# references differ from each other more than a defect differs from a good part (4 casting impellers of different
# size and light), their leave-one-out scores sit above most simulated defects and the threshold above them passed
# 98.9 % of casting's defective parts; a threshold that passes more than half of the product's own simulated defects
# is no threshold. On the shared 2- and 4-reference runs it moves casting alone (docs/benchmarks.md, "A product that
# cannot see its defects"); the product is also flagged to the operator (core/calibration_warning.py).
LOO_CAP_QUANTILE = 0.5
# Version of the rule below, and for each method the version since which it has been computed the same way
# (2: halves of a single reference as normals, detectable-defect quartile; 3: leave-one-out weight 0.5 -> 0.25;
# 4: many references get their own method, threshold on the held-out maximum; 5: a single reference's threshold
# toward the median simulated defect; 6: several references' threshold at most the median simulated defect; 7: a
# single reference's share and offset refitted on the adaptor's features). A
# saved calibration older than that is rebuilt when its product is loaded; one from a method no longer made
# ("jitter+simulated") always is.
RULE_VERSION = 7
_SAME_SINCE = {"split+jitter+simulated": 7, "loo+jitter+simulated": 6, HELD_OUT_METHOD: 4}
MIN_EDGE_FLOOR = 0.5  # the frame's edge keeps at least half its weight, so a strong defect there still counts
EDGE_QUANTILE = 99.0  # compares the high end of the map in the edge band with that of the interior


@dataclass(frozen=True)
class Calibration:
    threshold: float  # automatic threshold (score units)
    scale: float  # logistic width in log-score units
    normal_scores: tuple[float, ...]
    anomaly_scores: tuple[float, ...]
    method: str
    override_threshold: float | None = None
    override_by: str | None = None
    override_at: str | None = None
    stats: dict[str, float] = field(default_factory=dict)
    edge_floor: float = 1.0  # map weight on the frame's edge (1 = none), learned from the normal maps
    rule: int = 1  # RULE_VERSION that made it (calibrations saved before versioning read as 1)

    @property
    def current(self) -> bool:
        """Made by this version of the rule (an older one is rebuilt when its product is loaded)."""
        return self.rule >= _SAME_SINCE.get(self.method, RULE_VERSION)

    @property
    def effective_threshold(self) -> float:
        return self.override_threshold if self.override_threshold is not None else self.threshold

    @property
    def overridden(self) -> bool:
        return self.override_threshold is not None

    @property
    def id(self) -> str:
        fields: list[Any] = [round(self.threshold, 6), round(self.scale, 6), self.method, self.override_threshold]
        if self.edge_floor != 1.0:  # products calibrated before edge weighting keep their ids
            fields.append(round(self.edge_floor, 6))
        payload = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def probability(self, score: float) -> float:
        t = self.effective_threshold
        z = (math.log(max(score, 1e-9)) - math.log(max(t, 1e-9))) / max(self.scale, 1e-6)
        z = max(-40.0, min(40.0, z))
        return 1.0 / (1.0 + math.exp(-z))

    def decide(self, score: float) -> tuple[str, float]:
        return (FAIL if score > self.effective_threshold else PASS), self.probability(score)

    def with_override(self, threshold: float | None, by: str = "operator") -> Calibration:
        if threshold is None:
            return replace(self, override_threshold=None, override_by=None, override_at=None)
        if not (threshold > 0 and math.isfinite(threshold)):
            raise CalibrationError(f"threshold override must be a positive number, got {threshold!r}")
        return replace(
            self,
            override_threshold=float(threshold),
            override_by=by,
            override_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["normal_scores"] = [round(v, 6) for v in self.normal_scores]
        d["anomaly_scores"] = [round(v, 6) for v in self.anomaly_scores]
        d["id"] = self.id
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["normal_scores"] = tuple(d.get("normal_scores", ()))
        d["anomaly_scores"] = tuple(d.get("anomaly_scores", ()))
        d["stats"] = dict(d.get("stats", {}))
        return cls(**d)


def edge_floor_from_maps(normal_maps: list[np.ndarray], band: float) -> float:
    """Weight for the frame's edge that brings the normal maps' edge band down to their interior's level.

    The ratio of the high end (99th percentile) of each map in the outer ``band`` x long side to that inside it,
    its median over the maps, inverted and kept within [MIN_EDGE_FLOOR, 1].
    """
    ratios = []
    for m in normal_maps:
        h, w = m.shape[:2]
        b = round(band * max(h, w))
        if band <= 0 or b < 1 or h <= 2 * b + 1 or w <= 2 * b + 1:
            continue
        edge = np.ones((h, w), dtype=bool)
        edge[b : h - b, b : w - b] = False
        inner = float(np.percentile(m[~edge], EDGE_QUANTILE))
        if inner > 0:
            ratios.append(float(np.percentile(m[edge], EDGE_QUANTILE)) / inner)
    if not ratios:
        return 1.0
    return float(np.clip(1.0 / np.median(ratios), MIN_EDGE_FLOOR, 1.0))


def fit_calibration(
    normal_scores: list[float],
    anomaly_scores: list[float],
    normals_are_real: bool,
    edge_floor: float = 1.0,
    split_scores: list[float] | None = None,
    held_out: bool = False,
) -> Calibration:
    """Place the threshold between the normal and the simulated-anomaly score distributions.

    ``split_scores`` are the held-out-half scores of a single reference; they join the normal scores.
    ``held_out``: the real normal scores are of references held out of a memory built from all the others (many
    references), not leave-one-out scores against a memory short of one of few references.
    """
    split = list(split_scores or [])
    n = np.log(np.maximum(np.asarray(list(normal_scores) + split, dtype=np.float64), 1e-9))
    a = np.log(np.maximum(np.asarray(anomaly_scores, dtype=np.float64), 1e-9))
    if n.size == 0 or a.size == 0:
        raise CalibrationError("calibration needs normal and simulated-anomaly scores; add a reference image")
    n_hi = float(np.max(n))
    n_med = float(np.median(n))
    a_med = float(np.median(a))
    a_lo = float(np.quantile(a, ANOMALY_QUANTILE))
    if split and not normals_are_real:  # one reference (the inspector gives split scores only then): ADR 0009
        method = "split+jitter+simulated"
        evidence = {"jitter": list(normal_scores), "split": split, "simulated": list(anomaly_scores)}
        log_t = math.log(toward_simulated(evidence, (SINGLE_SHARE, SINGLE_OFFSET)))
    else:
        # Real parts vary more than the normal evidence shows: leave room above the normal maximum, a share of the
        # gap up to the bulk of the simulated defects.
        if normals_are_real and held_out:
            weight, method = WEIGHT_HELD_OUT_NORMALS, HELD_OUT_METHOD
        elif normals_are_real:
            weight, method = WEIGHT_REAL_NORMALS, "loo+jitter+simulated"
        else:
            weight, method = WEIGHT_DISTURBED_NORMALS, "jitter+simulated"
        log_t = n_hi + weight * (max(a_lo, n_hi + 0.05) - n_hi)
        if method == "loo+jitter+simulated":
            log_t = min(log_t, float(np.quantile(a, LOO_CAP_QUANTILE)))
    scale = max(0.03, (a_med - n_med) / 6.0)
    stats = {
        "normal_max": math.exp(n_hi),
        "normal_median": math.exp(n_med),
        "anomaly_q25": math.exp(a_lo),
        "anomaly_median": math.exp(a_med),
        "separation": float(np.mean(a[:, None] > n[None, :])),
        "detectable": float(np.mean(a > n_hi)),
    }
    if split:
        stats["split_max"] = float(max(split))
    return Calibration(
        threshold=math.exp(log_t),
        scale=scale,
        normal_scores=tuple(float(v) for v in np.exp(n)),
        anomaly_scores=tuple(float(v) for v in np.exp(a)),
        method=method,
        stats=stats,
        edge_floor=float(edge_floor),
        rule=RULE_VERSION,
    )
