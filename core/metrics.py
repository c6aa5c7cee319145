"""Detection and segmentation metrics (scikit-learn and SciPy underneath)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import accuracy_score, auc, f1_score, roc_auc_score


def image_auroc(labels: list[bool], scores: list[float]) -> float:
    y = np.asarray(labels, bool)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(scores, float)))


def pixel_auroc(masks: list[np.ndarray], maps: list[np.ndarray]) -> float:
    y = np.concatenate([m.reshape(-1) for m in masks]).astype(bool)
    s = np.concatenate([m.reshape(-1) for m in maps]).astype(np.float32)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, s))


def aupro(masks: list[np.ndarray], maps: list[np.ndarray], fpr_limit: float = 0.3, steps: int = 300) -> float:
    """Area under the per-region-overlap curve up to ``fpr_limit`` false-positive rate, normalised to [0, 1]."""
    scores = np.concatenate([m.reshape(-1) for m in maps]).astype(np.float64)
    normal = np.concatenate([~m.reshape(-1).astype(bool) for m in masks])
    if not normal.any() or normal.all():
        return float("nan")
    thresholds = np.quantile(scores[normal], np.linspace(1.0, max(0.0, 1.0 - fpr_limit * 1.05), steps))
    thresholds = np.unique(thresholds)[::-1]
    normal_sorted = np.sort(scores[normal])
    fpr = 1.0 - np.searchsorted(normal_sorted, thresholds, side="right") / normal_sorted.size
    pro_sum = np.zeros_like(thresholds)
    n_regions = 0
    for mask, amap in zip(masks, maps, strict=False):
        labels, n = ndimage.label(mask.astype(bool))
        for r in range(1, n + 1):
            vals = np.sort(amap[labels == r].astype(np.float64))
            pro_sum += 1.0 - np.searchsorted(vals, thresholds, side="right") / vals.size
            n_regions += 1
    if n_regions == 0:
        return float("nan")
    pro = pro_sum / n_regions
    order = np.argsort(fpr)
    fpr, pro = fpr[order], pro[order]
    keep = fpr <= fpr_limit
    fpr_k, pro_k = fpr[keep], pro[keep]
    if fpr_k.size == 0 or fpr_k[-1] < fpr_limit:  # interpolate the curve's value at the limit
        pro_at = float(np.interp(fpr_limit, fpr, pro))
        fpr_k = np.append(fpr_k, fpr_limit)
        pro_k = np.append(pro_k, pro_at)
    if fpr_k[0] > 0:
        fpr_k = np.insert(fpr_k, 0, 0.0)
        pro_k = np.insert(pro_k, 0, 0.0)
    return float(auc(fpr_k, pro_k) / fpr_limit)


def verdict_scores(labels: list[bool], predicted: list[bool]) -> tuple[float, float]:
    y = np.asarray(labels, bool)
    p = np.asarray(predicted, bool)
    return float(accuracy_score(y, p)), float(f1_score(y, p, zero_division=0))


def verdict_rates(labels: list[bool], predicted: list[bool]) -> dict[str, float]:
    """What a quality engineer reads off a verdict: accuracy and F1 (defective = positive), balanced accuracy (the
    mean of the two per-class accuracies, so a category with few good parts cannot hide its false rejects), the
    escape rate (defective parts passed) and the false-reject rate (good parts failed). NaN where a class is empty."""
    y = np.asarray(labels, bool)
    p = np.asarray(predicted, bool)
    acc, f1 = verdict_scores(labels, predicted)
    escape = float(np.mean(~p[y])) if y.any() else float("nan")
    false_reject = float(np.mean(p[~y])) if (~y).any() else float("nan")
    balanced = float(np.nanmean([1.0 - escape, 1.0 - false_reject]))
    return {
        "verdict_accuracy": acc,
        "verdict_f1": f1,
        "verdict_balanced_accuracy": balanced,
        "escape_rate": escape,
        "false_reject_rate": false_reject,
    }
