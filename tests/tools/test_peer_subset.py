"""tools/peer/subset.py lays out exactly the test images evaluate scores, so the peer is scored on the same ones."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import core.evaluation as evaluation
from tools.peer import subset


def _category(root: Path, name: str, masks: bool) -> None:
    """A tiny MVTec-layout category: 3 train/good, 7 test/good, 6 + 5 defective of two types."""
    rng = np.random.default_rng(0)
    img = lambda: rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)  # noqa: E731
    for i in range(3):
        (root / name / "train" / "good").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name / "train" / "good" / f"{i:03d}.png"), img())
    for kind, n in (("good", 7), ("scratch", 6), ("dent", 5)):
        (root / name / "test" / kind).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(root / name / "test" / kind / f"{i:03d}.png"), img())
            if kind != "good" and masks:
                (root / name / "ground_truth" / kind).mkdir(parents=True, exist_ok=True)
                m = np.zeros((16, 16), np.uint8)
                m[i : i + 4, 2:6] = 255
                cv2.imwrite(str(root / name / "ground_truth" / kind / f"{i:03d}_mask.png"), m)


def _scored_by_evaluate(monkeypatch, root: Path, category: str, max_test: int | None) -> list[Path]:
    """The test images evaluate_category loads, recorded through its image loader (a stand-in inspector)."""
    loaded: list[Path] = []
    real = evaluation.load_image

    def load(path):
        loaded.append(Path(path))
        return real(path)

    rng = np.random.default_rng(1)
    inspector = SimpleNamespace(
        build_product=lambda refs, name, settings, seed: None,
        inspect=lambda img, product, pool=None: SimpleNamespace(
            timings_ms={"total": 1.0}, score=float(rng.uniform()), verdict="PASS", anomaly_map=np.zeros((16, 16))
        ),
    )
    monkeypatch.setattr(evaluation, "load_image", load)
    evaluation.evaluate_category(inspector, root, category, 1, [0], max_test=max_test)  # type: ignore[arg-type]
    test = (root / category / "test").resolve()
    return [p.resolve() for p in loaded if test in p.resolve().parents]


@pytest.mark.parametrize("max_test", [None, 8])
def test_layout_holds_what_evaluate_scores(tmp_path, monkeypatch, max_test):
    root, out = tmp_path / "data", tmp_path / "peer"
    _category(root, "part", masks=True)
    manifest = subset.lay_out(root, "part", max_test, out)
    laid = sorted((out / "part" / "test").rglob("*.png"))
    scored = _scored_by_evaluate(monkeypatch, root, "part", max_test)
    assert len(scored) == (max_test or 18) == manifest["n_test"]
    assert sorted(p.resolve() for p in laid) == sorted(scored)
    assert sorted(p.name for p in (out / "part" / "train" / "good").iterdir()) == ["000.png", "001.png", "002.png"]
    for p in laid:  # every defective image has the mask evaluate reads, under the name the harness expects
        if p.parent.name != "good":
            mask = out / "part" / "ground_truth" / p.parent.name / f"{p.stem}_mask.png"
            assert mask.resolve() == (root / "part" / "ground_truth" / p.parent.name / f"{p.stem}_mask.png").resolve()


def test_a_category_without_masks_gets_blank_ones(tmp_path):
    root, out = tmp_path / "data", tmp_path / "peer"
    _category(root, "casting", masks=False)
    manifest = subset.lay_out(root, "casting", None, out)
    assert manifest["pixel_masks"] is False and manifest["n_defect"] == 11
    masks = sorted((out / "casting" / "ground_truth").rglob("*_mask.png"))
    assert len(masks) == 11
    assert all(not cv2.imread(str(m), cv2.IMREAD_GRAYSCALE).any() for m in masks)
