"""One-reference calibration: halves of the reference scored against the other half, and the detectable-defect
quantile that keeps faint simulated defects from dragging the threshold into the normals."""

from dataclasses import replace

import numpy as np
import pytest

from core.calibration import fit_calibration
from core.inspector import DEFAULT_SETTINGS
from core.split_normals import HALVES, held_out_score, split_half_maps
from tests.core.synth import make_part

SETTINGS = replace(DEFAULT_SETTINGS, resolution=192)


def _mark_on_the_left(size: int = 192) -> np.ndarray:
    """A plain, slightly noisy plate with one white cross in its left half, found nowhere else."""
    rng = np.random.default_rng(3)
    img = np.full((size, size, 3), 110.0) + rng.normal(0, 3, (size, size, 3))
    c = size // 4
    img[size // 2 - 16 : size // 2 + 16, c - 4 : c + 4] = 240
    img[size // 2 - 4 : size // 2 + 4, c - 16 : c + 16] = 240
    return np.clip(img, 0, 255).astype(np.uint8)


def test_each_map_covers_its_half_only(inspector):
    ref = make_part(np.random.default_rng(0), size=192)
    maps = split_half_maps(inspector.encoder, ref, SETTINGS)
    assert len(maps) == len(HALVES) == 4
    h, w = maps[0].shape
    valid = [~np.isnan(m) for m in maps]
    left, right, top, bottom = valid
    assert left[:, : w // 2 - 8].all() and not left[:, w // 2 + 8 :].any()
    assert right[:, w // 2 + 8 :].all() and not right[:, : w // 2 - 8].any()
    assert top[: h // 2 - 8].all() and not top[h // 2 + 8 :].any()
    assert bottom[h // 2 + 8 :].all() and not bottom[: h // 2 - 8].any()


def test_a_flipped_view_does_not_bring_the_held_out_half_back(inspector):
    # The horizontally flipped view puts the cross in the right half of the view. Were the memory chosen by position
    # in the view rather than in the original image, the left half's memory would hold the cross and score it low.
    img = _mark_on_the_left()
    left, right = (held_out_score(m, SETTINGS, 1.0) for m in split_half_maps(inspector.encoder, img, SETTINGS)[:2])
    assert left > 2.0 * right


def test_halves_of_a_part_score_like_another_good_part(inspector):
    rng = np.random.default_rng(21)
    ref = make_part(rng)
    product = inspector.build_product([ref], name="one", seed=0)
    cal = product.calibration
    others = [inspector.inspect(make_part(rng), product).score for _ in range(3)]
    assert cal.method == "split+jitter+simulated"
    assert 0.5 * np.median(others) < cal.stats["split_max"] < 2.0 * max(others)
    assert max(others) < cal.threshold


def test_one_reference_threshold_goes_toward_the_median_simulated_defect():
    """The single-reference rule is the verdict study's family "toward_simulated" with the shipped parameters."""
    from core.calibration import SINGLE_OFFSET, SINGLE_SHARE
    from core.verdict_rule import toward_simulated

    normals, split = [1.0, 1.05, 1.1, 1.2], [1.15]
    simulated = [2.0, 2.2, 2.5, 2.8, 3.0, 3.3, 0.9, 1.0, 1.1, 1.15, 1.0]
    cal = fit_calibration(normals, simulated, normals_are_real=False, split_scores=split)
    expected = np.exp(np.log(1.2) + SINGLE_SHARE * (np.log(np.median(simulated)) - np.log(1.2)) + SINGLE_OFFSET)
    assert cal.threshold == pytest.approx(expected)
    evidence = {"jitter": normals, "split": split, "simulated": simulated}
    assert cal.threshold == pytest.approx(toward_simulated(evidence, (SINGLE_SHARE, SINGLE_OFFSET)))
    assert cal.stats["detectable"] == pytest.approx(6 / 11) and cal.stats["split_max"] == pytest.approx(1.15)


def test_subtle_simulated_defects_put_the_threshold_below_the_highest_stand_in():
    """A product whose halves differ more than its defects stand out (ball_screw, casting): the threshold may go
    below the highest normal stand-in, where its real defects score."""
    cal = fit_calibration([1.0, 1.1], [0.8, 0.9, 1.0, 1.05, 1.2], normals_are_real=False, split_scores=[1.0])
    assert cal.threshold < 1.1


def test_calibrations_know_which_rule_made_them():
    from core.calibration import RULE_VERSION, Calibration

    cal = fit_calibration([1.0, 1.1], [2.0, 2.5, 3.0], normals_are_real=False, split_scores=[1.05])
    assert cal.rule == RULE_VERSION and cal.current
    saved = cal.to_dict()
    assert Calibration.from_dict(saved).current
    saved.pop("rule")  # saved before the rule was versioned
    assert not Calibration.from_dict(saved).current
    split_v4 = dict(cal.to_dict(), rule=4)  # the one-reference rule changed in version 5: rebuilt
    assert not Calibration.from_dict(split_v4).current
    loo = fit_calibration([1.0, 1.1], [2.0, 2.5, 3.0], normals_are_real=True)
    assert loo.current
    assert not Calibration.from_dict(dict(loo.to_dict(), rule=2)).current  # its weight changed in version 3
    old_one_shot = dict(saved, method="jitter+simulated")  # a method no longer made: rebuilt
    assert not Calibration.from_dict(old_one_shot).current
    many = fit_calibration([1.0, 1.1], [2.0, 2.5, 3.0], normals_are_real=True, held_out=True)
    assert many.current
    assert not Calibration.from_dict(dict(many.to_dict(), rule=3)).current


def test_held_out_references_put_the_threshold_on_their_maximum():
    from core.calibration import HELD_OUT_METHOD

    normals, anomalies = [1.0, 1.05, 1.2, 1.1], [2.0, 2.5, 3.0, 3.2]
    many = fit_calibration(normals, anomalies, normals_are_real=True, held_out=True)
    few = fit_calibration(normals, anomalies, normals_are_real=True)
    assert many.method == HELD_OUT_METHOD and few.method == "loo+jitter+simulated"
    assert many.threshold == pytest.approx(1.2)  # real good parts against a full memory: no margin above them
    assert few.threshold > many.threshold  # leave-one-out memories lack a reference: a margin above them
    assert many.decide(1.19)[0] == "PASS" and many.decide(1.25)[0] == "FAIL"


def test_a_product_with_many_references_saved_before_rule_4_is_recalibrated():
    import torch

    from core.memory import MemoryBank
    from core.product import ProductModel
    from core.settings import DecoderSettings

    loo = fit_calibration([1.0, 1.1], [2.0, 2.5, 3.0], normals_are_real=True)
    held = fit_calibration([1.0, 1.1], [2.0, 2.5, 3.0], normals_are_real=True, held_out=True)
    bank = MemoryBank(features=torch.zeros(4, 8), encoder_id="enc", key="k")

    def product(cal, held_out):
        info = {"references": 20, "held_out": held_out}
        return ProductModel("p", DecoderSettings(), bank, cal, ("a",) * 20, "enc", info)

    assert not product(loo, 6).calibration_current  # many references, calibrated as leave-one-out (rule 3)
    assert product(held, 6).calibration_current
    assert product(loo, 0).calibration_current  # a few references: leave-one-out is today's method


def test_with_several_references_all_simulated_defects_place_the_threshold():
    normals = [1.0, 1.05, 1.1, 1.2]
    strong = [2.0, 2.2, 2.5, 2.8, 3.0, 3.3]
    faint = [0.9, 1.0, 1.1, 1.15, 1.0]
    with_faint = fit_calibration(normals, strong + faint, normals_are_real=True)
    without = fit_calibration(normals, strong, normals_are_real=True)
    assert with_faint.threshold < without.threshold


@pytest.mark.parametrize("size", [(64, 900), (900, 64)])
def test_a_long_strip_builds_and_inspects(inspector, size):
    import cv2

    h, w = size
    strip = cv2.resize(make_part(np.random.default_rng(5)), (w, h))
    product = inspector.build_product([strip], name="strip", seed=0)
    assert product.calibration.method == "split+jitter+simulated"
    assert product.calibration.threshold > max(product.calibration.normal_scores)
    result = inspector.inspect(strip, product)
    assert result.verdict == "PASS" and result.anomaly_map.shape == (h, w)
