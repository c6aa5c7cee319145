"""Framing (core/framing.py): a part on a plain background is compared at the reference's scale wherever it lies in
the frame; textures and parts that fill the frame are framed whole."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.framing import OBJECT, WHOLE, Box, choose_framing, object_box, paste_map
from core.preprocess import working_view
from core.result import FAIL, PASS
from core.settings import DecoderSettings
from tests.core.synth import make_part, make_texture, plant_spot

BACKGROUND = (70, 90, 110)  # make_part's background


def _placed(part: np.ndarray, scale: float, cx: int, cy: int, size: int = 320, seed: int = 0) -> np.ndarray:
    """The part at ``scale`` with its centre at (cx, cy) of a larger frame of the same background and noise: the
    part further from the camera and off centre."""
    small = cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    frame = np.clip(np.full((size, size, 3), BACKGROUND, np.float32) + rng.normal(0, 2.0, (size, size, 3)), 0, 255)
    h, w = small.shape[:2]
    x0, y0 = cx - w // 2, cy - h // 2
    frame[y0 : y0 + h, x0 : x0 + w] = small
    return frame.astype(np.uint8)


def test_a_part_on_a_plain_background_is_found_and_a_texture_is_not():
    rng = np.random.default_rng(1)
    part = make_part(rng)  # a disk of radius 0.36 x 224 px at the centre
    box = object_box(part)
    assert box is not None
    r = 0.36 * 224
    assert box.side == pytest.approx(2 * r * 1.12, rel=0.06)  # the disk and its margin
    assert box.x0 + box.side / 2 == pytest.approx(112, abs=5) and box.y0 + box.side / 2 == pytest.approx(112, abs=5)
    assert object_box(make_texture(rng)) is None
    filled = cv2.resize(part[40:184, 40:184], (224, 224))  # the part fills the frame: nothing to frame
    assert object_box(filled) is None
    assert choose_framing([part, make_part(rng)]) == OBJECT
    assert choose_framing([part, make_texture(rng)]) == WHOLE  # every reference must show an object
    assert choose_framing([]) == WHOLE


def test_a_body_beside_the_part_widens_the_crop_and_a_speck_does_not():
    part = _placed(make_part(np.random.default_rng(2)), 0.7, 150, 150)
    alone = object_box(part)
    with_body, with_speck = part.copy(), part.copy()
    cv2.circle(with_body, (285, 285), 22, (200, 200, 200), -1)  # a loose part on the belt, apart from this one
    cv2.circle(with_speck, (285, 285), 3, (200, 200, 200), -1)  # dust
    wider, same = object_box(with_body), object_box(with_speck)
    assert alone is not None and wider is not None and same is not None
    assert wider.x0 + wider.side >= 300 and wider.side > alone.side * 1.3
    assert same == pytest.approx(alone)


def test_the_map_is_placed_where_the_crop_lies_in_the_frame():
    crop_map = np.zeros((64, 64), np.float32)
    crop_map[16, 48] = 1.0  # a peak a quarter down and three quarters across the crop
    box = Box(x0=100.0, y0=50.0, side=200.0)
    full = paste_map(crop_map, box, frame_wh=(400, 300), size=(400, 300))
    y, x = np.unravel_index(int(np.argmax(full)), full.shape)
    assert (x, y) == (pytest.approx(100 + 200 * 48.5 / 64, abs=3), pytest.approx(50 + 200 * 16.5 / 64, abs=3))
    assert full[0, 0] == 0.0 and full.shape == (300, 400)  # outside the crop: the crop map's lowest value
    half = paste_map(crop_map, box, frame_wh=(400, 300), size=(200, 150))  # drawn at half the frame's size
    y2, x2 = np.unravel_index(int(np.argmax(half)), half.shape)
    assert (x2, y2) == (pytest.approx(x / 2, abs=2), pytest.approx(y / 2, abs=2))


def test_the_working_view_of_an_object_product_is_the_same_part_at_any_distance():
    part = make_part(np.random.default_rng(3))
    settings = DecoderSettings(resolution=128, framing=OBJECT)
    near, box_near = working_view(_placed(part, 1.0, 160, 160), settings)
    far, box_far = working_view(_placed(part, 0.7, 110, 200, seed=1), settings)
    assert box_near is not None and box_far is not None and near.shape == far.shape == (128, 128, 3)
    assert float(np.abs(near.astype(float) - far.astype(float)).mean()) < 12.0  # the same view, noise apart
    whole, box = working_view(_placed(part, 0.7, 110, 200), DecoderSettings(resolution=128, framing=WHOLE))
    assert box is None and whole.shape == (128, 128, 3)
    with pytest.raises(ValueError, match="framing"):
        working_view(part, DecoderSettings(resolution=128))  # "auto" must be resolved by the build


def test_an_object_product_passes_its_part_further_away_and_finds_a_spot_where_it_is(inspector):
    rng = np.random.default_rng(4)
    product = inspector.build_product([_placed(make_part(rng), 1.0, 160, 160)], name="disk", seed=0)
    assert product.settings.framing == OBJECT and product.settings.resolution == 256
    far = _placed(make_part(rng), 0.75, 130, 180, seed=5)  # a smaller, off-centre part: the same part
    assert inspector.inspect(far, product).verdict == PASS
    bad, mask = plant_spot(make_part(rng), 150, 150, radius=12)
    frame = _placed(bad, 0.75, 130, 180, seed=6)
    result = inspector.inspect(frame, product)
    assert result.verdict == FAIL and result.anomaly_map.shape == frame.shape[:2]
    # the spot, at (150, 150) of the part, lies at (130 - 84 + 112.5, 180 - 84 + 112.5) of the frame
    spot = (130 - 84 + 150 * 0.75, 180 - 84 + 150 * 0.75)
    y, x = np.unravel_index(int(np.argmax(result.anomaly_map)), result.anomaly_map.shape)
    assert abs(x - spot[0]) < 20 and abs(y - spot[1]) < 20
    cx, cy = result.regions[0].centroid
    assert abs(cx - spot[0]) < 20 and abs(cy - spot[1]) < 20


def test_a_texture_product_is_framed_whole_and_a_product_stored_before_framing_loads_whole(inspector):
    product = inspector.build_product([make_texture(np.random.default_rng(5))], name="weave", seed=0)
    assert product.settings.framing == WHOLE
    stored = product.settings.to_dict()
    del stored["framing"]
    assert DecoderSettings.from_dict(stored).framing == WHOLE
    assert DecoderSettings(framing=OBJECT).key() != DecoderSettings(framing=WHOLE).key() == DecoderSettings().key()
