"""Regions carry the right box, size and location word; simulated anomalies match their descriptions."""

import numpy as np
import pytest

from core.regions import describe_locations, find_regions, location_word
from core.simulation import KINDS, simulate_anomaly
from tests.core.synth import make_part


@pytest.mark.parametrize(
    "x, y, word",
    [
        (5, 5, "top left"),
        (50, 5, "top"),
        (95, 5, "top right"),
        (5, 50, "left"),
        (50, 50, "center"),
        (95, 50, "right"),
        (5, 95, "bottom left"),
        (50, 95, "bottom"),
        (95, 95, "bottom right"),
    ],
)
def test_location_words(x, y, word):
    assert location_word(x, y, 100, 100) == word


def test_find_regions_boxes_and_area():
    m = np.zeros((100, 200), np.float32)
    m[10:20, 150:170] = 2.0
    m[70:90, 20:40] = 1.5
    regions = find_regions(m, 1.0)
    assert [r.location for r in regions] == ["top right", "bottom left"]
    assert regions[0].bbox == (150, 10, 170, 20)
    assert regions[0].area_pct == pytest.approx(100 * 200 / 20000)
    assert regions[0].peak == pytest.approx(2.0)
    assert describe_locations(regions) == "the top right and the bottom left"
    assert find_regions(m, 5.0) == []


def test_regions_of_a_smaller_map_are_given_in_frame_pixels():
    m = np.zeros((100, 200), np.float32)
    m[10:20, 150:170] = 2.0
    regions = find_regions(m, 1.0, frame_size=(800, 400))
    assert regions[0].bbox == (600, 40, 680, 80)
    assert regions[0].area_pct == pytest.approx(100 * 200 / 20000)  # a share of the part, whatever the scale
    assert regions[0].location == "top right"
    cx, cy = regions[0].centroid
    assert 600 < cx < 680 and 40 < cy < 80


@pytest.mark.parametrize("kind", KINDS)
def test_simulated_anomaly_matches_description(kind):
    rng = np.random.default_rng(3)
    img = make_part(rng)
    other = make_part(rng)
    sim = simulate_anomaly(img, rng, others=[other], kind=kind)
    assert sim.image.shape == img.shape and sim.image.dtype == np.uint8
    assert sim.mask.any() and sim.kind == kind
    changed = np.abs(sim.image.astype(int) - img.astype(int)).max(axis=2)
    assert changed[sim.mask].mean() > changed[~sim.mask].mean()
    assert sim.description.startswith("Yes, there is an anomaly at ")
    assert sim.regions and sim.regions[0].location in sim.description
    assert f"{sim.area_pct:.1f}%" in sim.description or "less than 0.1%" in sim.description


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [(16, 400), (400, 16), (64, 900), (900, 64)])
def test_simulated_anomalies_fit_long_strips_and_the_smallest_images(kind, size):
    # A quarter-turned cut-paste patch from a long strip used to be taller than the strip itself.
    h, w = size
    img = np.ascontiguousarray(np.broadcast_to(np.linspace(60, 200, w, dtype=np.uint8)[None, :, None], (h, w, 3)))
    for seed in range(12):
        sim = simulate_anomaly(img, np.random.default_rng(seed), others=[img[:, ::-1].copy()], kind=kind)
        assert sim.image.shape == img.shape and sim.mask.shape == (h, w)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown anomaly kind"):
        simulate_anomaly(np.zeros((64, 64, 3), np.uint8), np.random.default_rng(0), kind="dent")


def test_a_region_is_named_after_the_cell_holding_most_of_it():
    import cv2

    m = np.zeros((90, 90), np.float32)
    m[0:25, 0:25] = 1.0  # the bulk of the defect, top left
    cv2.line(m, (25, 25), (89, 89), 1.0, 5)  # a tail that pulls its centroid into the middle cell
    (region,) = find_regions(m, 0.5)
    cx, cy = region.centroid
    assert location_word(cx, cy, 90, 90) == "center"
    assert region.location == "top left"
