"""Frames deeper than 8 bits become the 8-bit image the core reads, from what their pixel format says."""

from __future__ import annotations

import numpy as np

from line.capture.pixel_depth import significant_bits, to_8bit


def test_the_top_8_of_the_used_bits_are_kept():
    ramp = np.arange(256, dtype=np.uint16).reshape(16, 16)
    assert np.array_equal(to_8bit(ramp << 4, "Mono12"), ramp)  # 0..4080 -> 0..255
    assert np.array_equal(to_8bit(ramp << 2, "Mono10p"), ramp)
    assert np.array_equal(to_8bit(ramp << 8, "Mono16"), ramp)
    assert np.array_equal(to_8bit((ramp << 4)[..., None].repeat(3, 2), "RGB12Packed")[..., 0], ramp)
    assert to_8bit(ramp << 8, "Coord3D_C16").max() == 255  # a format of unknown depth: the whole type


def test_an_8_bit_frame_is_left_as_it_is():
    frame = np.full((4, 4), 200, np.uint8)
    assert to_8bit(frame, "Mono8") is frame
    assert significant_bits("Mono8", frame.dtype) == 8
    assert significant_bits("Mono12", np.dtype(np.uint8)) == 8  # never more bits than the type holds
