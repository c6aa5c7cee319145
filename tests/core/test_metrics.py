"""Metric sanity on maps whose answers are known."""

import numpy as np
import pytest

from core.metrics import aupro, image_auroc, pixel_auroc, verdict_scores


def _case():
    masks, perfect, noise = [], [], []
    rng = np.random.default_rng(0)
    for i in range(4):
        m = np.zeros((32, 32), bool)
        if i % 2:
            m[5 + i : 12 + i, 8:20] = True
        masks.append(m)
        perfect.append(m.astype(np.float32) + rng.uniform(0, 0.1, m.shape))
        noise.append(rng.uniform(0, 1, m.shape))
    return masks, perfect, noise


def test_perfect_and_random_maps():
    masks, perfect, noise = _case()
    assert pixel_auroc(masks, perfect) == pytest.approx(1.0)
    assert aupro(masks, perfect) == pytest.approx(1.0, abs=0.02)
    assert 0.3 < pixel_auroc(masks, noise) < 0.7
    assert aupro(masks, noise) < 0.3


def test_image_level():
    assert image_auroc([False, True, True], [0.1, 0.5, 0.9]) == 1.0
    assert np.isnan(image_auroc([True, True], [0.1, 0.2]))
    acc, f1 = verdict_scores([False, True, True, False], [False, True, False, False])
    assert acc == 0.75 and f1 == pytest.approx(2 / 3)
