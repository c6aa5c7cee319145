"""Evaluation on MVTec-layout folders: per category and mean image/pixel AUROC, AUPRO, verdict accuracy/F1, speed.

Reference protocol (few-shot): references of seed s at k shots are sorted(train/good)[s*k:(s+1)*k]; figures are
averaged over seeds. ``shots=0`` means every train/good image.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import DatasetError, ImageReadError
from core.imageio import load_image
from core.inspector import Inspector, resolve_settings
from core.line_pool import ADAPT, POOL_SCORING, LinePool
from core.metrics import aupro, image_auroc, pixel_auroc, verdict_rates
from core.settings import DecoderSettings

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
EVAL_SIDE = 256  # maps and masks are compared at this longer side, which keeps pixel metrics cheap
KEYS = (
    "image_auroc",
    "pixel_auroc",
    "aupro",
    "verdict_accuracy",
    "verdict_f1",
    "verdict_balanced_accuracy",
    "escape_rate",
    "false_reject_rate",
    "ms_per_image_p50",
    "ms_per_image_p95",
)
SHORT = {  # column heads of the printed table
    "image_auroc": "img_auroc",
    "pixel_auroc": "pix_auroc",
    "aupro": "aupro",
    "verdict_accuracy": "v_acc",
    "verdict_f1": "v_f1",
    "verdict_balanced_accuracy": "v_bal_acc",
    "escape_rate": "escape",
    "false_reject_rate": "false_rej",
    "ms_per_image_p50": "ms_p50",
    "ms_per_image_p95": "ms_p95",
}

BASELINE_SETTINGS = DecoderSettings(
    resolution=256,
    augment=(),
    self_similarity=False,
    top_fraction=0.0,
    coreset_ratio=1.0,
    reference_cap=10**9,
    edge_band=0.0,
    extra={"squash": True},  # every reference patch kept
)


@dataclass
class Sample:
    path: Path
    defect: str  # "good" or the defect type
    mask_path: Path | None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT) if folder.is_dir() else []


def list_categories(root: Path) -> list[str]:
    if not root.is_dir():
        raise DatasetError(f"{root}: data folder not found")
    cats = sorted(p.name for p in root.iterdir() if (p / "train" / "good").is_dir() and (p / "test").is_dir())
    if not cats:
        raise DatasetError(f"{root}: no category folders with train/good and test/ (MVTec AD layout)")
    return cats


def find_mask(gt_dir: Path, stem: str) -> Path | None:
    """The mask of the test image named ``stem`` in its defect type's ground_truth folder: the file NAME_mask.* (MVTec
    AD) or NAME.*, else the one file NAME_<anything>.*, else a folder NAME/ of masks (MVTec LOCO: one file per
    defect region; :func:`load_mask` takes their union); None where there is none. Never the mask of another image
    whose name merely starts with this one's (1.png does not take 10_mask.png)."""
    if not gt_dir.is_dir():
        return None
    files = {p.stem: p for p in _images(gt_dir)}
    for name in (f"{stem}_mask", stem):
        if name in files:
            return files[name]
    others = [p for n, p in files.items() if n.startswith(stem + "_")]
    if len(others) == 1:
        return others[0]
    folder = gt_dir / stem
    return folder if folder.is_dir() and _images(folder) else None


def load_mask(path: Path) -> np.ndarray:
    """A mask file (or :func:`find_mask`'s folder of masks, united) as a bool array at its own size; 0/255 masks
    (a JPEG's ringing included) and 0/1 masks alike."""
    parts = [load_image(p).max(axis=2) for p in (_images(path) if path.is_dir() else [path])]
    h, w = parts[0].shape
    union = np.zeros((h, w), bool)
    for m in parts:
        if m.shape != (h, w):
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
        union |= m > (127 if m.max() > 1 else 0)
    return union


def test_samples(root: Path, category: str) -> list[Sample]:
    test = root / category / "test"
    if not test.is_dir():
        raise DatasetError(f"{test}: missing test folder")
    samples: list[Sample] = []
    for d in sorted(p for p in test.iterdir() if p.is_dir()):
        for img in _images(d):
            mask = find_mask(root / category / "ground_truth" / d.name, img.stem) if d.name != "good" else None
            samples.append(Sample(img, d.name, mask))
    if not samples:
        raise DatasetError(f"{test}: no test images")
    return samples


def fixed_test_subset(samples: list[Sample], max_test: int | None) -> list[Sample]:
    """``evaluate --max-test``: a fixed random subset of the test images, the same in every run and study."""
    if not max_test or len(samples) <= max_test:
        return samples
    pick = np.random.default_rng(0).choice(len(samples), max_test, replace=False)
    return [samples[i] for i in sorted(pick)]


def references_for(root: Path, category: str, shots: int, seed: int) -> list[Path]:
    goods = _images(root / category / "train" / "good")
    if not goods:
        raise DatasetError(f"{root / category / 'train' / 'good'}: no normal training images")
    if shots <= 0:
        return goods
    chosen = goods[seed * shots : (seed + 1) * shots]
    if len(chosen) < shots:
        raise DatasetError(f"{category}: seed {seed} at {shots} shots needs {(seed + 1) * shots} train/good images")
    return chosen


def line_goods(root: Path, category: str, shots: int, seed: int, count: int) -> list[Sample]:
    """Up to ``count`` good parts from train/good that are not the seed's references (a seeded choice)."""
    if count <= 0:
        return []
    refs = set(references_for(root, category, shots, seed))
    others = [p for p in _images(root / category / "train" / "good") if p not in refs]
    pick = np.random.default_rng(2000 + int(seed)).permutation(len(others))[:count]
    return [Sample(others[i], "good", None) for i in sorted(pick)]


def _eval_size(w: int, h: int) -> tuple[int, int]:
    s = EVAL_SIDE / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def evaluate_category(
    inspector: Inspector,
    root: Path,
    category: str,
    shots: int,
    seeds: Sequence[int],
    settings: DecoderSettings | None = None,
    on_image: Callable[[], None] | None = None,
    max_test: int | None = None,
    records: list[dict[str, object]] | None = None,
    stream: bool = False,
    pool_scoring: bool = POOL_SCORING,
    line_good: int = 0,
    problems: list[str] | None = None,
    adapt: bool = ADAPT,
) -> dict[str, float]:
    """Per-category figures averaged over seeds. ``records``, when given, receives one entry per seed with every
    test image's score, label and verdict and the product's calibration evidence (``evaluate --dump``), so that
    verdict rules can be replayed without scoring the images again.

    ``stream``: line mode. The test images come in a seeded random order, as parts on a line do, and image i is
    scored with the references plus the pool the station built from images 0..i-1 on its own (no label used).

    ``line_good`` (line mode only): a line is mostly good parts, the shared test sets mostly defective ones. Up to
    this many further good parts (train/good images that are not the seed's references, a seeded choice) run on the
    line among the test images, in the same random order; the station learns from them as from any part, and the
    figures cover the test images alone, so they compare with the cold run's.

    ``adapt`` (line mode only): once line mode has taken enough parts, the product's own map is fitted on them and
    the product rebuilt with it (core/own_map.py), then and there, as the station does between parts; the row's
    ``adapted_at_part`` is the mean position in the line where that happened (NaN where no seed got there) and
    ``adapt_s`` the mean time the fit and rebuild took.

    A test image (or its mask) that cannot be read is left out of every seed's figures, as a part that never reached
    the station; ``problems``, when given, receives one message per such file, and the row's ``n_unreadable`` counts
    them. An unreadable reference stops the run (ImageReadError): another reference would change the protocol."""
    samples = fixed_test_subset(test_samples(root, category), max_test)
    unreadable = problems if problems is not None else []
    skipped: set[Path] = set()  # test images (or their masks) that could not be read, on every seed alike
    per_seed: list[dict[str, float]] = []
    all_ms: list[float] = []
    further = 0  # further good parts on the line, summed over the seeds
    adapted_at: list[float] = []  # per seed: the part after which the product's own map took over (NaN: never)
    adapt_s: list[float] = []
    taken_defective: list[int] = []  # per adapted seed: defective parts among those the own map was fitted on
    for seed in seeds:
        refs = [load_image(p) for p in references_for(root, category, shots, seed)]
        st = resolve_settings(settings, [])  # the defaults where None; resolution is chosen at the build
        if shots == 0 or len(refs) >= 8:
            st = DecoderSettings.from_dict({**st.to_dict(), "augment": ()})
        product = inspector.build_product(refs, name=category, settings=st, seed=seed)
        labels, scores, preds, masks, maps = [], [], [], [], []
        positions: list[int] = []  # each scored test image's place on the line (1 = first part)
        defect_of: dict[str, str] = {}  # frame hash -> defect type, of the parts line mode took
        seed_taken_defective: int | None = None
        order = samples
        pool: LinePool | None = None
        extra: set[int] = set()  # ids of the further good parts on the line (learned from, not scored)
        if stream:
            line = samples + line_goods(root, category, shots, seed, line_good)
            extra = {id(x) for x in line[len(samples) :]}
            further += len(extra)
            order = [line[i] for i in np.random.default_rng(1000 + int(seed)).permutation(len(line))]
            pool = LinePool(scoring=pool_scoring, adapt=adapt)
            adapted_at.append(float("nan"))
        for n, s in enumerate(order):
            try:
                img = load_image(s.path)
                mask = load_mask(s.mask_path) if s.mask_path is not None else None
            except ImageReadError as exc:  # the part never reached the station: left out of every figure
                if str(exc) not in unreadable:
                    unreadable.append(str(exc))
                skipped.add(s.path)
                if on_image and id(s) not in extra:
                    on_image()
                continue
            taken_before = len(pool.taken) if pool is not None else 0
            res = inspector.inspect(img, product, pool=pool)
            if pool is not None and len(pool.taken) > taken_before:  # which part a taken key is (bookkeeping)
                defect_of[pool.taken[-1].key] = s.defect
            if pool is not None and pool.ready_to_adapt:
                t_adapt = time.perf_counter()
                taken = pool.taken
                product = inspector.adapt_product(
                    product, refs, [t.image for t in taken], [t.key for t in taken], seed=seed
                )
                seed_taken_defective = sum(defect_of.get(t.key, "good") != "good" for t in taken)
                taken_defective.append(seed_taken_defective)
                pool.adopt(product.adapted_parts)
                adapted_at[-1] = float(n + 1)
                adapt_s.append(time.perf_counter() - t_adapt)
            if id(s) in extra:
                continue
            all_ms.append(res.timings_ms["total"])
            labels.append(s.defect != "good")
            positions.append(n + 1)
            scores.append(res.score)
            preds.append(res.verdict == "FAIL")
            size = _eval_size(img.shape[1], img.shape[0])
            maps.append(cv2.resize(res.anomaly_map, size, interpolation=cv2.INTER_AREA))
            if mask is not None:
                masks.append(cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0)
            else:
                masks.append(np.zeros(size[::-1], bool))
            if on_image:
                on_image()
        order = [x for x in order if id(x) not in extra and x.path not in skipped]
        if not labels:
            raise DatasetError(f"{root / category / 'test'}: none of its test images could be read: {unreadable[0]}")
        has_masks = any(s.mask_path is not None for s in order)
        per_seed.append(
            {
                "image_auroc": image_auroc(labels, scores),
                "pixel_auroc": pixel_auroc(masks, maps) if has_masks else float("nan"),
                "aupro": aupro(masks, maps) if has_masks else float("nan"),
                **verdict_rates(labels, preds),
            }
        )
        if records is not None:
            records.append(
                {
                    "category": category,
                    "seed": int(seed),
                    "shots": shots,
                    "settings": product.settings.to_dict(),
                    "threshold": product.calibration.threshold,
                    "method": product.calibration.method,
                    "calibration": product.calibration.stats,
                    "evidence": product.info.get("evidence", {}),
                    "scores": [float(v) for v in scores],
                    "labels": [bool(v) for v in labels],
                    "defects": [s.defect for s in order],
                    "positions": positions,
                    "stream": stream,
                    "adapted_at_part": None if not adapted_at or math.isnan(adapted_at[-1]) else adapted_at[-1],
                    "taken_defective": seed_taken_defective,
                }
            )
    out = {k: nan_mean([d[k] for d in per_seed]) for k in per_seed[0]}
    out["ms_per_image_p50"] = float(np.percentile(all_ms, 50))
    out["ms_per_image_p95"] = float(np.percentile(all_ms, 95))
    out["n_test"] = len([x for x in samples if x.path not in skipped])
    if skipped:
        out["n_unreadable"] = len(skipped)
    if stream and line_good:
        out["n_line_good"] = further / len(seeds)  # per seed: fewer than asked where train/good runs out
    if stream and adapt:
        out["adapted_at_part"] = nan_mean(adapted_at)
        out["adapted_seeds"] = float(sum(not math.isnan(a) for a in adapted_at))
        out["adapt_s"] = float(np.mean(adapt_s)) if adapt_s else float("nan")
        out["taken_defective"] = float(np.mean(taken_defective)) if taken_defective else float("nan")
    return out


def mean_row(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    return {k: nan_mean([r[k] for r in rows.values()]) for k in KEYS}


def nan_mean(values: Sequence[float]) -> float:
    """Mean of the values that are not NaN; NaN (quietly) when none is, e.g. pixel metrics without masks."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def fmt(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t
