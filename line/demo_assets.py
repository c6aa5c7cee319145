"""Where the project's generated demo images live (resources/demo, made by tools/make_demo_images.py)."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent.parent / "resources" / "demo"
DEMO_REFERENCE_DIR = DEMO_DIR / "references"
DEMO_CAMERA_DIR = DEMO_DIR / "camera"
DEMO_PRODUCT_NAME = "Demo disk"


def demo_reference_paths() -> list[Path]:
    """The good demo parts used as normal references of the demo product."""
    return sorted(DEMO_REFERENCE_DIR.glob("*.png"))
