"""Generate the demo images of the station: a machined round disk, good parts and parts with planted defects.

    python tools/make_demo_images.py [--out resources/demo] [--size 320]

Everything is drawn procedurally (numpy + OpenCV) with fixed seeds, so the output is the same on every run.
references/ holds good parts (the demo product's normal references); camera/ is what the simulated demo camera
cycles through: good parts mixed with scratched, stained, chipped and dented ones.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "resources" / "demo"


def _disk(size: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A good part: turned steel disk with concentric grooves, a centre bore and six bolt holes on a belt."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx = size / 2 + rng.uniform(-3, 3)
    cy = size / 2 + rng.uniform(-3, 3)
    r = np.hypot(xx - cx, yy - cy)
    theta = np.arctan2(yy - cy, xx - cx)
    radius = size * 0.40
    bore = size * 0.07
    belt = size * 0.03 + rng.uniform(-2, 2)

    # Conveyor belt: dark, slightly textured.
    belt_tex = rng.normal(0, 3, (size, size)).astype(np.float32)
    img = np.dstack([38 + belt + belt_tex, 42 + belt + belt_tex, 48 + belt + belt_tex])

    # Disk surface: grooves from turning, a soft light from the top left, a bevelled rim.
    light = 1.0 + 0.18 * np.cos(theta + math.radians(135 + rng.uniform(-10, 10)))
    grooves = 6.0 * np.sin(r * 1.9) + 3.0 * np.sin(r * 0.55 + 1.3)
    base = (150 + rng.uniform(-6, 6)) * light + grooves + rng.normal(0, 2.0, (size, size))
    rim = np.clip((radius - r) / 4.0, 0, 1)
    shade = np.where(r > radius - 7, 0.82, 1.0)
    metal = np.dstack([base * shade * 0.97, base * shade * 0.99, base * shade * 1.03])
    img = img * (1 - rim[..., None]) + metal * rim[..., None]

    # Centre bore and bolt holes (dark, with a thin bright chamfer).
    holes = [(cx, cy, bore)]
    phase = rng.uniform(0, 2 * math.pi)
    for k in range(6):
        a = phase + k * math.pi / 3
        holes.append((cx + 0.62 * radius * math.cos(a), cy + 0.62 * radius * math.sin(a), size * 0.035))
    for hx, hy, hr in holes:
        d = np.hypot(xx - hx, yy - hy)
        img[d < hr + 2] = img[d < hr + 2] * 0.0 + np.array([190, 192, 196], np.float32)
        img[d < hr] = np.array([22, 24, 28], np.float32)
    info = {"cx": cx, "cy": cy, "radius": radius, "holes": holes}
    return img, info


def _scratch(img: np.ndarray, info: dict, rng: np.random.Generator) -> None:
    cx, cy, rad = info["cx"], info["cy"], info["radius"]
    a = rng.uniform(0, math.pi)
    start = (cx + 0.75 * rad * math.cos(a), cy + 0.75 * rad * math.sin(a))
    end = (start[0] - 0.9 * rad * math.cos(a + 0.5), start[1] - 0.9 * rad * math.sin(a + 0.5))
    p0 = (int(start[0]), int(start[1]))
    p1 = (int(end[0]), int(end[1]))
    cv2.line(img, p0, p1, (250, 250, 252), 6, cv2.LINE_AA)
    cv2.line(img, (p0[0] + 4, p0[1] + 4), (p1[0] + 4, p1[1] + 4), (40, 40, 42), 3, cv2.LINE_AA)


def _stain(img: np.ndarray, info: dict, rng: np.random.Generator) -> None:
    cx, cy, rad = info["cx"], info["cy"], info["radius"]
    a = rng.uniform(0, 2 * math.pi)
    sx, sy = cx + 0.35 * rad * math.cos(a), cy + 0.35 * rad * math.sin(a)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(np.float32)
    blob = np.exp(-(((xx - sx) / 22) ** 2 + ((yy - sy) / 15) ** 2))
    blob *= 0.75 + 0.25 * rng.random(blob.shape)
    rust = np.array([140, 62, 22], np.float32)
    img[:] = img * (1 - 0.95 * blob[..., None]) + rust * 0.95 * blob[..., None]


def _dent(img: np.ndarray, info: dict, rng: np.random.Generator) -> None:
    cx, cy, rad = info["cx"], info["cy"], info["radius"]
    a = rng.uniform(0, 2 * math.pi)
    center = (int(cx + 0.45 * rad * math.cos(a)), int(cy + 0.45 * rad * math.sin(a)))
    cv2.ellipse(img, center, (27, 17), math.degrees(a), 0, 360, (36, 32, 30), -1, cv2.LINE_AA)
    cv2.ellipse(img, center, (27, 17), math.degrees(a), 190, 350, (248, 248, 250), 5, cv2.LINE_AA)


def _chip(img: np.ndarray, info: dict, rng: np.random.Generator) -> None:
    """A piece broken out of the rim: the belt shows through a ragged notch."""
    cx, cy, rad = info["cx"], info["cy"], info["radius"]
    a = rng.uniform(0, 2 * math.pi)
    pts = []
    for k in range(9):
        t = a + (k - 4) * 0.07
        r = rad + 3 if k in (0, 8) else rad - 14 - 8 * rng.random()
        pts.append((int(cx + r * math.cos(t)), int(cy + r * math.sin(t))))
    cv2.fillPoly(img, [np.array(pts, np.int32)], (40, 44, 50), cv2.LINE_AA)


DEFECTS = {"scratch": _scratch, "stain": _stain, "dent": _dent, "chip": _chip}
CAMERA_SEQUENCE = ["good", "scratch", "good", "stain", "good", "chip", "good", "dent"]


def make_part(size: int, seed: int, defect: str | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img, info = _disk(size, rng)
    if defect is not None:
        DEFECTS[defect](img, info, rng)
    return np.clip(img, 0, 255).astype(np.uint8)


def _save(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"could not write {path}")


def generate(out: Path, size: int = 320) -> list[Path]:
    written = []
    for folder in ("references", "camera"):
        for old in (out / folder).glob("*.png"):
            old.unlink()
    for i in range(3):
        path = out / "references" / f"good_{i + 1}.png"
        _save(path, make_part(size, seed=100 + i))
        written.append(path)
    for i, kind in enumerate(CAMERA_SEQUENCE):
        path = out / "camera" / f"{i + 1:02d}_{kind}.png"
        _save(path, make_part(size, seed=200 + i, defect=None if kind == "good" else kind))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--size", type=int, default=320)
    args = parser.parse_args(argv)
    written = generate(args.out, args.size)
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} images to {args.out} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
