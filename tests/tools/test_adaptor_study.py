"""tools/adaptor_study.py learns to ignore what varies between normal parts and to keep what a defect changes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from tools.adaptor_study import Category, fit_adaptor, score_category

C, H, W = 8, 6, 6


def _grid(rng: np.random.Generator, defect: np.ndarray | None = None) -> np.ndarray:
    """Unit patch features: a fixed normal direction, a nuisance channel that varies between parts (lighting),
    and, on defect cells, a smaller bump on a channel of its own."""
    f = np.zeros((H, W, C), np.float32)
    f[..., 0] = 1.0
    f[..., 1] = rng.uniform(-1.5, 1.5) + rng.normal(0, 0.05, (H, W))
    f[..., 3:] = rng.normal(0, 0.02, (H, W, C - 3))
    if defect is not None:
        f[defect, 2] = 0.6
    return f / np.linalg.norm(f, axis=-1, keepdims=True)


def _category(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {f"ref{s}": _grid(rng).reshape(-1, C) for s in range(3)}
    normals, anomalies, cells = [], [], []
    for _ in range(12):
        normals.append(_grid(rng))
        mask = np.zeros((H, W), bool)
        y, x = rng.integers(0, H - 1, 2)
        mask[y : y + 2, x : x + 2] = True
        anomalies.append(_grid(rng, mask))
        cells.append(np.where(mask, 1, 0).astype(np.int8))
    tests = [_grid(rng) for _ in range(10)] + [_grid(rng, anomalies_mask(rng)) for _ in range(10)]
    for key, grids in (("normal", normals), ("anomaly", anomalies), ("test", tests)):
        data[f"{key}_flat"] = np.concatenate([g.reshape(-1, C) for g in grids]).astype(np.float16)
        data[f"{key}_shapes"] = np.array([g.shape[:2] for g in grids])
    data["anomaly_cells"] = np.concatenate([c.ravel() for c in cells])
    data["test_labels"] = np.array([False] * 10 + [True] * 10)
    np.savez(path, **data)
    return path


def anomalies_mask(rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    y, x = rng.integers(0, H - 1, 2)
    mask[y : y + 2, x : x + 2] = True
    return mask


def test_the_adaptor_fitted_on_other_categories_lifts_the_ranking_of_a_new_one(tmp_path):
    torch.manual_seed(0)
    train = [Category(_category(tmp_path / f"c{i}.npz", i)) for i in range(2)]
    held = Category(_category(tmp_path / "held.npz", 9))
    args = argparse.Namespace(
        dim=0, steps=150, batch=4, lr=0.02, temp=0.05, topk=4, reg=0.0, patch_weight=0.0, aug=False, verbose=False
    )
    w = fit_adaptor(train, args)
    plain = float(np.mean(score_category(held, None)))
    adapted = float(np.mean(score_category(held, w)))
    assert plain < 0.8  # the nuisance channel hides the defects from the plain features
    assert adapted > 0.95
    # it learned to weigh the nuisance channel down against the defect's
    assert w[1].norm() < w[2].norm()


def test_a_products_own_parts_teach_the_adaptor_its_nuisance_even_with_some_defects_among_them(tmp_path):
    """``own``: the map fitted further on one product's own unlabelled parts (a line's pool), starting from a map
    that knows nothing of its nuisance (here the identity), with defective parts taken for good among them."""
    from tools.adaptor_study import fine_tune

    torch.manual_seed(0)
    held = Category(_category(tmp_path / "held.npz", 9))
    args = argparse.Namespace(steps=150, batch=4, lr=0.02, temp=0.05, topk=4, reg=0.0)
    plain = float(np.mean(score_category(held, None)))
    clean = fine_tune(held, torch.eye(C), [], args)
    rng = np.random.default_rng(3)
    dirty = fine_tune(held, torch.eye(C), [torch.from_numpy(_grid(rng, anomalies_mask(rng))) for _ in range(2)], args)
    assert plain < 0.8
    assert float(np.mean(score_category(held, clean))) > 0.95
    assert float(np.mean(score_category(held, dirty))) > 0.9  # 2 defective among 14 pooled parts
