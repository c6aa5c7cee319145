"""Verdict-rule families: from a product's calibration evidence to a threshold, with a few open parameters.

The evidence (``ProductModel.info["evidence"]``) is what self-calibration scored: normal stand-ins (``split``: the
reference's halves against each other, ``loo``: each reference against a memory of the others, ``held_out``:
references kept out of the memory, ``jitter``: disturbed copies of the references) and simulated defects on those
copies (``simulated``). A family places the threshold with parameters that tools/verdict_study.py fits
leave-one-category-out; core/calibration.py ships the family and parameters chosen that way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Evidence = Mapping[str, Sequence[float]]


def _log(values: Sequence[float]) -> np.ndarray:
    return np.log(np.maximum(np.asarray(list(values), dtype=np.float64), 1e-9))


def real_normals(ev: Evidence) -> np.ndarray:
    """Log scores of the normal stand-ins that vary as real parts do (halves, leave-one-out, held-out)."""
    return _log([*ev.get("split", ()), *ev.get("loo", ()), *ev.get("held_out", ())])


def all_normals(ev: Evidence) -> np.ndarray:
    return _log([*ev.get("split", ()), *ev.get("loo", ()), *ev.get("held_out", ()), *ev.get("jitter", ())])


def between(ev: Evidence, params: Sequence[float]) -> float:
    """A share ``w`` of the way from the highest normal stand-in up to the ``q`` quantile of the simulated defects
    that score above it (the highest three where fewer do), in log-score space: the shipped rule's shape."""
    w, q = params
    n = all_normals(ev)
    a = _log(ev.get("simulated", ()))
    n_hi = float(n.max())
    pool = a[a > n_hi]
    if pool.size < 3:
        pool = np.sort(a)[-3:]
    a_q = float(np.quantile(pool, q))
    return float(np.exp(n_hi + w * (max(a_q, n_hi + 0.05) - n_hi)))


def between_all(ev: Evidence, params: Sequence[float]) -> float:
    """:func:`between` over every simulated defect, so the threshold may fall below the highest normal stand-in
    where the simulated defects overlap the normal evidence (a product whose defects are subtle)."""
    w, q = params
    n_hi = float(all_normals(ev).max())
    a_q = float(np.quantile(_log(ev.get("simulated", ())), q))
    return float(np.exp(n_hi + w * (a_q - n_hi)))


def margin(ev: Evidence, params: Sequence[float]) -> float:
    """The highest normal stand-in times a fixed factor exp(m)."""
    (m,) = params
    return float(np.exp(all_normals(ev).max() + m))


def spread(ev: Evidence, params: Sequence[float]) -> float:
    """The median normal stand-in plus ``k`` times the distance from it up to the highest one (log space), so the
    margin scales with how much this product's normal evidence varies."""
    (k,) = params
    n = all_normals(ev)
    med, hi = float(np.median(n)), float(n.max())
    return float(np.exp(med + k * max(hi - med, 0.02)))


def simulated_quantile(ev: Evidence, params: Sequence[float]) -> float:
    """A quantile of all simulated defects, never below the highest normal stand-in."""
    (q,) = params
    a = _log(ev.get("simulated", ()))
    return float(np.exp(max(float(np.quantile(a, q)), float(all_normals(ev).max()))))


def quartile_all(ev: Evidence, params: Sequence[float]) -> float:
    """A share ``w`` of the way from the highest normal stand-in to the ``q`` quantile of all simulated defects,
    never less than 0.05 above the stand-in (the rule products of 2 to 16 references ship, with w = q = 0.25; since
    calibration rule 6 they also cap it at the median simulated defect, core.calibration.LOO_CAP_QUANTILE)."""
    w, q = params
    n_hi = float(all_normals(ev).max())
    a_q = float(np.quantile(_log(ev.get("simulated", ())), q))
    return float(np.exp(n_hi + w * (max(a_q, n_hi + 0.05) - n_hi)))


def toward_simulated(ev: Evidence, params: Sequence[float]) -> float:
    """A share ``s`` of the way from the highest normal stand-in to the median simulated defect, plus an offset
    ``o`` (log space). Below the highest normal stand-in where ``o`` is negative or the simulated defects are
    subtle: the products whose good parts score below their stand-ins (a reference's halves differ more than two
    good parts do) get a threshold their defects can reach."""
    share, offset = params
    n_hi = float(all_normals(ev).max())
    a_med = float(np.median(_log(ev.get("simulated", ()))))
    return float(np.exp(n_hi + share * (a_med - n_hi) + offset))


@dataclass(frozen=True)
class RuleFamily:
    threshold: Callable[[Evidence, Sequence[float]], float]
    grid: tuple[tuple[float, ...], ...]


FAMILIES: dict[str, RuleFamily] = {
    "between": RuleFamily(between, (tuple(np.round(np.linspace(0.0, 1.0, 21), 3)), (0.1, 0.25, 0.5))),
    "between_all": RuleFamily(between_all, (tuple(np.round(np.linspace(0.0, 1.0, 21), 3)), (0.1, 0.25, 0.5))),
    "margin": RuleFamily(margin, (tuple(np.round(np.linspace(-0.3, 0.6, 46), 3)),)),
    "spread": RuleFamily(spread, (tuple(np.round(np.linspace(0.0, 4.0, 41), 3)),)),
    "simulated_quantile": RuleFamily(simulated_quantile, (tuple(np.round(np.linspace(0.0, 0.5, 26), 3)),)),
    "quartile_all": RuleFamily(quartile_all, (tuple(np.round(np.linspace(0.0, 1.0, 21), 3)), (0.1, 0.25, 0.5))),
    "toward_simulated": RuleFamily(
        toward_simulated,
        (tuple(np.round(np.linspace(0.0, 1.0, 21), 3)), tuple(np.round(np.linspace(-0.3, 0.1, 21), 3))),
    ),
}
