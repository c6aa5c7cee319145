"""Odd and broken image files give one clear message naming the file."""

import io

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageReadError
from core.imageio import check_array, load_image, save_png


def _write(path, arr, mode=None, fmt="PNG"):
    Image.fromarray(arr, mode=mode).save(path, format=fmt) if mode else Image.fromarray(arr).save(path, format=fmt)
    return path


def test_grayscale_rgba_and_16bit_become_rgb(tmp_path):
    gray = _write(tmp_path / "g.png", np.full((40, 50), 128, np.uint8))
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba_p = _write(tmp_path / "a.png", rgba)
    deep = tmp_path / "d.png"
    Image.fromarray(np.full((40, 50), 65535, np.uint16)).save(deep)
    for p in (gray, rgba_p, deep):
        arr = load_image(p)
        assert arr.shape == (40, 50, 3) and arr.dtype == np.uint8
    assert load_image(rgba_p)[0, 0, 0] == 200
    assert load_image(deep).max() == 255


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
    ],
)
def test_bad_bytes(tmp_path, content, fragment):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(ImageReadError) as err:
        load_image(p)
    assert str(p) in str(err.value) and fragment in str(err.value)


def test_truncated_file(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "PNG")
    p = tmp_path / "cut.png"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="cut.png"):
        load_image(p)


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="folder"):
        load_image(tmp_path)


def test_tiny_and_huge(tmp_path):
    tiny = _write(tmp_path / "tiny.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ImageReadError, match="too small"):
        load_image(tiny)
    with pytest.raises(ImageReadError, match="larger than"):
        check_array(np.zeros((10000, 9000, 3), np.uint8), "huge")


def test_save_png_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    save_png(np.zeros((20, 20, 3), np.uint8), target)
    assert load_image(target).shape == (20, 20, 3)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError):
        save_png(np.ones((20, 20, 3), np.uint8), tmp_path / "full.png")
    assert not (tmp_path / "full.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.parametrize("mode,fmt", [("L", "PNG"), ("I;16", "PNG"), ("RGB", "JPEG")])
def test_files_above_the_work_bound_are_reduced_as_they_are_decoded(tmp_path, caplog, mode, fmt):
    """Issue 15: an 8900x8900 PNG (just under MAX_PIXELS) cost 1.2 GB and about a minute downstream; files above
    MAX_WORK_PIXELS now come out of the loader reduced by an integer factor, so the work after decoding is bounded."""
    from core.imageio import MAX_WORK_PIXELS, reduction_factor

    side = int(MAX_WORK_PIXELS**0.5) + 2  # just over the bound: reduced by 2
    assert reduction_factor(side, side) == 2 and reduction_factor(4000, 3000) == 1
    arr = np.zeros((side, side), np.uint16 if mode == "I;16" else np.uint8)
    arr[side // 4 : side // 2, side // 4 : side // 2] = 40000 if mode == "I;16" else 200
    img = Image.fromarray(arr).convert("RGB") if mode == "RGB" else Image.fromarray(arr)
    path = tmp_path / f"big.{fmt.lower()}"
    img.save(path, format=fmt, **({"compress_level": 1} if fmt == "PNG" else {"quality": 70}))
    with caplog.at_level("WARNING", logger="core.imageio"):
        out = load_image(path)
    assert out.shape == (side // 2, side // 2, 3) and out.dtype == np.uint8
    assert out[side * 3 // 16, side * 3 // 16].max() > 100 and out[10, 10].max() < 30  # the content survives
    assert "inspected reduced to" in caplog.text


def test_images_up_to_the_work_bound_keep_their_size(tmp_path):
    path = _write(tmp_path / "cam.png", np.zeros((3000, 4000, 3), np.uint8))
    assert load_image(path).shape == (3000, 4000, 3)


@pytest.mark.parametrize("fill", [np.nan, np.inf])
def test_float_frames_with_values_that_are_not_numbers_are_refused(tmp_path, fill):
    """Issue 15: a NaN-filled float TIFF became a black frame and came out PASS; now one clear message."""
    arr = np.full((64, 64), 0.5, np.float32)
    arr[:, :8] = fill
    path = tmp_path / "nan.tif"
    Image.fromarray(arr, mode="F").save(path)
    with pytest.raises(ImageReadError, match="not numbers"):
        load_image(path)
    with pytest.raises(ImageReadError, match="not numbers"):
        check_array(np.repeat(arr[:, :, None], 3, axis=2), "frame")
    good = np.full((64, 64), 0.5, np.float32)
    Image.fromarray(good, mode="F").save(path)
    assert load_image(path).shape == (64, 64, 3)
