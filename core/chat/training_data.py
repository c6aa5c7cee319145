"""Training data of the prompt learner: simulated anomalies on normal images, with grounded answers.

Each sample is a normal image, or the same image with a defect planted by ``core.simulation.simulate_anomaly``,
together with its anomaly map (from the real inspector with one reference of the same family, or, with
``fast=True``, the simulated mask blurred plus smooth noise) and the simulation's truth (regions, kind). Questions
and answers are drawn per training step from the same composer the chat uses (grounding.first_sentence), followed
by a sentence naming what the defect looks like; so what the model learns to continue is exactly what the chat
forces at inference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from core.chat.grounding import Kind, first_sentence
from core.chat.prompt_learner import map_tensor, thumb_tensor
from core.protocols import InspectorProtocol
from core.result import FAIL, PASS, InspectionResult, Region

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
WORK_SIDE = 224  # images are resized so their longer side is this many pixels

QUESTIONS: dict[Kind, tuple[str, ...]] = {
    Kind.YES_NO: (
        "Is there an anomaly in the image?",
        "Is there a defect on this part?",
        "Are there any defects?",
        "Does the part have a defect?",
        "Is anything wrong with this part?",
    ),
    Kind.IS_OK: ("Is this part OK?", "Is the part good?", "Does this part pass?"),
    Kind.WHERE: ("Where is the defect?", "Where is the anomaly located?"),
    Kind.SIZE: ("How large is the defect?", "How big is the anomaly?"),
    Kind.COUNT: ("How many anomalous regions are there?", "How many defects does it have?"),
    Kind.WHAT: ("What might the defect be?", "What kind of defect is it?", "What does the anomaly look like?"),
    Kind.GENERAL: ("Describe this part.", "Tell me about this image."),
}
KIND_WEIGHTS = {
    Kind.YES_NO: 0.4,
    Kind.IS_OK: 0.1,
    Kind.WHAT: 0.2,
    Kind.WHERE: 0.08,
    Kind.SIZE: 0.07,
    Kind.COUNT: 0.05,
    Kind.GENERAL: 0.1,
}
LOOKS_LIKE = {
    "cutpaste": "It looks like a misplaced patch of material.",
    "perlin": "It looks like a discoloured, irregular area.",
    "scratch": "It looks like a scratch.",
    "spot": "It looks like a spot or stain.",
}
NORMAL_SENTENCE = "The surface looks uniform."


@dataclass
class Sample:
    map: torch.Tensor  # [1, S, S], normalised by the threshold
    thumb: torch.Tensor  # [3, T, T] in [0, 1]
    result: InspectionResult  # the truth, worded as a measurement (verdict, regions, probability)
    kind: str  # anomaly kind, or "normal"

    @property
    def defective(self) -> bool:
        return self.result.verdict == FAIL


def answer_for(sample: Sample, kind: Kind) -> str:
    tail = LOOKS_LIKE.get(sample.kind, "It looks like a defect.") if sample.defective else NORMAL_SENTENCE
    return f"{first_sentence(kind, sample.result)} {tail}"


def draw_question(sample: Sample, rng: np.random.Generator) -> tuple[str, str]:
    kinds = list(KIND_WEIGHTS)
    kind = kinds[int(rng.choice(len(kinds), p=np.array([KIND_WEIGHTS[k] for k in kinds])))]
    options = QUESTIONS[kind]
    return options[int(rng.integers(len(options)))], answer_for(sample, kind)


# -- images ---------------------------------------------------------------------------------------------------------


def _fit(image: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    h, w = image.shape[:2]
    s = side / max(h, w)
    return cv2.resize(image, (max(16, round(w * s)), max(16, round(h * s))), interpolation=cv2.INTER_AREA)


def procedural_texture(family: int, seed: int, side: int = WORK_SIDE) -> np.ndarray:
    """A normal "part" of one of six texture families; same family + other seed = another good part."""
    rng = np.random.default_rng(1000 * family + seed)
    fam = np.random.default_rng(family)  # family look: fixed per family
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    base = fam.uniform(70, 190)
    kind = family % 6
    if kind == 0:  # brushed metal
        n = rng.normal(0, 1, (side, side)).astype(np.float32)
        img = base + 18 * cv2.GaussianBlur(n, (0, 0), sigmaX=12, sigmaY=0.8)
    elif kind == 1:  # woven grid
        p = fam.uniform(9, 16)
        img = base + 35 * (np.sin(2 * np.pi * xx / p) * np.sin(2 * np.pi * yy / p)) + rng.normal(0, 4, xx.shape)
    elif kind == 2:  # stripes
        p = fam.uniform(6, 14)
        img = base + 30 * np.sign(np.sin(2 * np.pi * (xx + rng.uniform(0, p)) / p)) + rng.normal(0, 5, xx.shape)
    elif kind == 3:  # cloudy plastic
        n = rng.normal(0, 1, (side, side)).astype(np.float32)
        img = base + 60 * cv2.GaussianBlur(n, (0, 0), 10) + rng.normal(0, 2, xx.shape)
    elif kind == 4:  # dotted sheet
        p = fam.uniform(14, 24)
        d = np.hypot((xx % p) - p / 2, (yy % p) - p / 2)
        img = base + np.where(d < p / 5, -50.0, 0.0) + rng.normal(0, 4, xx.shape)
    else:  # matte casting, light gradient
        img = base + 25 * (xx + yy) / side + rng.normal(0, 7, xx.shape)
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.2)
    tint = fam.uniform(0.85, 1.15, size=3)
    rgb = np.clip(np.asarray(img, np.float32)[..., None] * tint, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb)


def load_folder_images(folder: Path, load: Callable[[Path], np.ndarray]) -> list[np.ndarray]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [_fit(load(p)) for p in files]


def default_families(
    root: Path, load: Callable[[Path], np.ndarray], textures: int = 6, per_texture: int = 4
) -> list[list[np.ndarray]]:
    """The demo product's good parts (one family) plus procedural texture families."""
    families: list[list[np.ndarray]] = []
    demo = root / "resources" / "demo"
    demo_files = sorted((demo / "references").glob("*.png")) + sorted((demo / "camera").glob("*good*.png"))
    if demo_files:
        families.append([_fit(load(p)) for p in demo_files])
    for f in range(textures):
        families.append([procedural_texture(f, s) for s in range(per_texture)])
    return families


def folder_families(folder: Path, load: Callable[[Path], np.ndarray]) -> list[list[np.ndarray]]:
    """Every sub-folder holding images is a family (one product); loose images form one more."""
    families = []
    loose = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if loose:
        families.append([_fit(load(p)) for p in loose])
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        imgs = load_folder_images(sub, load)
        if imgs:
            families.append(imgs)
    return families


# -- maps -----------------------------------------------------------------------------------------------------------


def fast_map(mask: np.ndarray | None, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An anomaly map in threshold units without the inspector: blurred mask + smooth noise."""
    h, w = shape
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), max(2.0, min(h, w) / 24))
    noise = (noise - noise.min()) / max(float(np.ptp(noise)), 1e-6)
    amap: np.ndarray = noise * rng.uniform(0.25, 0.85)
    if mask is not None and mask.any():
        sigma = rng.uniform(1.5, 4.0)
        raw_blob: np.ndarray = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
        blob = raw_blob / max(float(raw_blob.max()), 1e-6)
        amap = np.maximum(amap, blob * rng.uniform(1.3, 3.0))
    return np.asarray(amap, dtype=np.float32)


def _probability(peak: float) -> float:
    return float(1.0 / (1.0 + np.exp(-8.0 * (peak - 1.0))))


def _truth(
    defective: bool, regions: Sequence[Region], amap: np.ndarray, threshold: float, size: tuple[int, int]
) -> InspectionResult:
    peak = float(amap.max()) / max(threshold, 1e-9)
    prob = _probability(peak)
    if defective:
        prob = max(prob, 0.6)
    else:
        prob = min(prob, 0.4)
    return InspectionResult(
        verdict=FAIL if defective else PASS,
        probability=prob,
        score=peak * threshold,
        threshold=threshold,
        anomaly_map=np.zeros((1, 1), np.float32),
        regions=list(regions),
        timings_ms={},
        encoder_id="simulated",
        calibration_id="simulated",
        image_size=size,
    )


class MapSource:
    """Produces (anomaly map, threshold) for an image of a family: the real inspector or the fast stand-in."""

    def __init__(self, fast: bool, inspector: InspectorProtocol | None = None):
        self.fast = fast
        self.inspector = inspector
        self._products: dict[int, Any] = {}

    def product(self, family_id: int, reference: np.ndarray) -> Any:
        if family_id not in self._products:
            if self.inspector is None:
                raise ValueError("the real map source needs an inspector")
            self._products[family_id] = self.inspector.build_product([reference], name=f"family-{family_id}")
        return self._products[family_id]

    def __call__(
        self,
        family_id: int,
        reference: np.ndarray,
        image: np.ndarray,
        mask: np.ndarray | None,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, float]:
        if self.fast or self.inspector is None:
            return fast_map(mask, image.shape[:2], rng), 1.0
        result = self.inspector.inspect(image, self.product(family_id, reference))
        return result.anomaly_map, float(result.threshold)


def build_samples(
    families: Sequence[Sequence[np.ndarray]],
    n: int,
    rng: np.random.Generator,
    maps: MapSource,
    defect_fraction: float = 0.5,
    map_size: int = 64,
    thumb_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> list[Sample]:
    """``n`` samples; the first image of each family is its reference, the others are the parts inspected."""
    from core.simulation import simulate_anomaly

    usable = [(i, list(f)) for i, f in enumerate(families) if len(f) >= 1]
    if not usable:
        raise ValueError("no normal images to build training data from")
    samples: list[Sample] = []
    for j in range(n):
        fid, imgs = usable[j % len(usable)]
        reference = imgs[0]
        parts = imgs[1:] or imgs
        image = parts[int(rng.integers(len(parts)))]
        defective = rng.random() < defect_fraction
        mask, kind, regions = None, "normal", []
        if defective:
            sim = simulate_anomaly(image, rng, others=imgs)
            if sim.regions:
                image, mask, kind, regions = sim.image, sim.mask, sim.kind, list(sim.regions)
            else:
                defective = False
        amap, threshold = maps(fid, reference, image, mask if defective else None, rng)
        h, w = image.shape[:2]
        samples.append(
            Sample(
                map=map_tensor(amap, threshold, map_size),
                thumb=thumb_tensor(image, thumb_size),
                result=_truth(defective, regions, amap, threshold, (w, h)),
                kind=kind if defective else "normal",
            )
        )
        if progress:
            progress(j + 1)
    return samples
