"""The working resolution is chosen per product from its references when the settings leave it automatic."""

import numpy as np

from core.inspector import DEFAULT_SETTINGS, choose_resolution, resolve_settings
from core.settings import DecoderSettings


def _img(w: int, h: int) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def test_small_and_mid_sized_parts_work_at_256_px():
    assert choose_resolution([_img(240, 290)]) == 256
    assert choose_resolution([_img(500, 360)]) == 256  # about 420 px native: 256 keeps its detail


def test_large_frames_work_at_384_px():
    assert choose_resolution([_img(512, 512)]) == 384
    assert choose_resolution([_img(1024, 1024), _img(1024, 1024), _img(200, 200)]) == 384  # median of the refs


def test_automatic_resolution_is_resolved_and_an_explicit_one_kept():
    assert DEFAULT_SETTINGS.resolution == 0
    auto = resolve_settings(DEFAULT_SETTINGS, [_img(1024, 1024)])
    assert auto.resolution == 384 and auto.augment == DEFAULT_SETTINGS.augment
    fixed = DecoderSettings(resolution=128)
    assert resolve_settings(fixed, [_img(1024, 1024)]) is fixed


def test_built_product_stores_the_chosen_resolution(inspector):
    rng = np.random.default_rng(0)
    ref = rng.integers(90, 110, (96, 128, 3), dtype=np.uint8)
    product = inspector.build_product([ref], settings=DecoderSettings(resolution=0, augment=()))
    assert product.settings.resolution == 256
