"""An MVTec-layout folder of symlinks holding exactly the test images ``main.py evaluate`` scores, for the peer.

``evaluate --max-test N`` scores a category with more than N test images on a fixed random subset
(core/evaluation.py, evaluate_category: ``test_samples`` order, ``np.random.default_rng(0).choice(len, N,
replace=False)``, sorted; the same subset for every seed and method). anomalib's harness (../shared/peer/run_peer.py)
takes every image of the folder it is given (its own ``--max-test`` keeps the first N per label, another subset), so
this tool lays out a folder that holds exactly the project's subset:

    OUT/CATEGORY/train/good/*          every train/good image (the harness draws sorted(train/good)[s*k:(s+1)*k])
    OUT/CATEGORY/test/<type>/*         the subset
    OUT/CATEGORY/ground_truth/<type>/<stem>_mask.png   the mask evaluate reads for that image

A category without masks (casting) gets blank masks, only so that the harness's layout check passes: run it with
``--no-pixel`` there (its image metrics never read them). Make OUT under /tmp, never inside the repository.

    .venv/bin/python tools/peer/subset.py --data ../shared/datasets --max-test 150 --out /tmp/peer_data
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.evaluation import Sample, _images, fixed_test_subset, list_categories, test_samples
from core.imageio import load_image


def evaluated_samples(root: Path, category: str, max_test: int | None) -> list[Sample]:
    """The test images ``evaluate_category`` scores, in its order (the same rule as core/evaluation.py)."""
    samples = fixed_test_subset(test_samples(root, category), max_test)  # evaluate --max-test's subset
    return samples


def lay_out(root: Path, category: str, max_test: int | None, out: Path) -> dict[str, object]:
    """Write OUT/CATEGORY as described above; return its manifest (also written as OUT/CATEGORY.json)."""
    src = root / category
    dst = out / category
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "train" / "good").mkdir(parents=True)
    for p in _images(src / "train" / "good"):
        (dst / "train" / "good" / p.name).symlink_to(p.resolve())
    samples = evaluated_samples(root, category, max_test)
    has_masks = any(s.mask_path is not None for s in samples)
    files = []
    for s in samples:
        (dst / "test" / s.defect).mkdir(parents=True, exist_ok=True)
        (dst / "test" / s.defect / s.path.name).symlink_to(s.path.resolve())
        if s.defect != "good":
            gt = dst / "ground_truth" / s.defect
            gt.mkdir(parents=True, exist_ok=True)
            mask = gt / f"{s.path.stem}_mask.png"
            if s.mask_path is not None:
                mask.symlink_to(s.mask_path.resolve())
            elif not has_masks:
                h, w = load_image(s.path).shape[:2]
                cv2.imwrite(str(mask), np.zeros((h, w), np.uint8))
            else:
                raise SystemExit(f"{s.path}: no mask while other images of {category} have one")
        files.append(f"test/{s.defect}/{s.path.name}")
    manifest: dict[str, object] = {
        "category": category,
        "max_test": max_test,
        "n_test": len(samples),
        "n_defect": sum(s.defect != "good" for s in samples),
        "all_test_images": len(test_samples(root, category)),
        "pixel_masks": has_masks,
        "files": files,
    }
    (out / f"{category}.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--category", action="append", default=[])
    ap.add_argument("--max-test", type=int, default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    root, out = Path(args.data), Path(args.out).resolve()
    repo = Path(__file__).resolve().parents[2]
    if out == repo or repo in out.parents:
        raise SystemExit(f"{out}: inside the repository; lay the peer's data out under /tmp")
    out.mkdir(parents=True, exist_ok=True)
    for c in args.category or list_categories(root):
        m = lay_out(root, c, args.max_test, out)
        print(
            f"{c}: {m['n_test']} of {m['all_test_images']} test images ({m['n_defect']} defective),"
            f" masks: {m['pixel_masks']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
