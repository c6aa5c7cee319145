"""Content-addressed image store: layout, idempotence, verification, and failures that leave nothing behind."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.atomic as atomic_module
from db.errors import InvalidImageError, NotFoundError, StorageError
from db.image_store import ImageStore


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_put_png_layout_round_trip_and_idempotence(store_files, tmp_path: Path, make_frame) -> None:
    store = ImageStore(tmp_path / "images")
    frame = make_frame(1, 20, 30)
    stored = store.put_png(frame)
    data = stored.path.read_bytes()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.path == tmp_path / "images" / stored.sha256[:2] / f"{stored.sha256}.png"
    assert stored.relpath == f"{stored.sha256[:2]}/{stored.sha256}.png"
    assert (stored.width, stored.height, stored.size_bytes) == (30, 20, len(data))
    assert np.array_equal(store.read_array(stored.sha256), frame)
    assert store.read(stored.sha256) == data
    assert store.verify(stored.sha256)

    mtime = stored.path.stat().st_mtime_ns
    again = store.put_png(frame.copy())
    assert again == stored
    assert stored.path.stat().st_mtime_ns == mtime  # not rewritten
    assert store_files(store.root) == [stored.path]  # one file, no temporaries


def test_gray_frames_are_stored_too(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    gray = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    stored = store.put_png(gray)
    assert (stored.width, stored.height) == (10, 12)
    assert np.array_equal(store.read_array(stored.sha256)[:, :, 0], gray)


def test_damaged_file_is_detected_and_repaired_by_the_next_put(tmp_path: Path, make_frame) -> None:
    store = ImageStore(tmp_path)
    frame = make_frame(2)
    stored = store.put_png(frame)
    stored.path.write_bytes(stored.path.read_bytes()[:-10])  # bit rot / truncation
    assert not store.verify(stored.sha256)
    store.put_png(frame)
    assert store.verify(stored.sha256)


def test_put_bytes_keeps_bytes_and_sniffs_the_kind(tmp_path: Path, make_frame) -> None:
    store = ImageStore(tmp_path)
    jpeg = io.BytesIO()
    Image.fromarray(make_frame(3)).save(jpeg, format="JPEG")
    stored = store.put_bytes(jpeg.getvalue(), check_image=True)
    assert stored.path.suffix == ".jpg"
    assert (stored.width, stored.height) == (32, 24)
    assert store.read(stored.sha256) == jpeg.getvalue()
    assert store.find(stored.sha256) == stored.path
    raw = store.put_bytes(b"calibration notes")
    assert raw.path.suffix == ".bin" and raw.width == 0


@pytest.mark.parametrize(
    "payload",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40],
    ids=["empty", "text", "png-signature-only"],
)
def test_put_bytes_rejects_undecodable_images_and_writes_nothing(store_files, tmp_path: Path, payload: bytes) -> None:
    store = ImageStore(tmp_path / "images")
    with pytest.raises(InvalidImageError, match="not a readable image"):
        store.put_bytes(payload, check_image=True)
    assert store_files(store.root) == []


def test_truncated_png_is_rejected(store_files, tmp_path: Path, make_frame) -> None:
    store = ImageStore(tmp_path / "images")
    data = png_bytes(make_frame(4, 64, 64))
    with pytest.raises(InvalidImageError):
        store.put_bytes(data[: len(data) // 2], check_image=True)
    assert store_files(store.root) == []


def test_put_png_refuses_non_image_arrays(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    with pytest.raises(InvalidImageError, match="8-bit"):
        store.put_png(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(InvalidImageError, match="shape"):
        store.put_png(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(InvalidImageError, match="shape"):
        store.put_png(np.zeros((0, 4, 3), np.uint8))


def _raise(code: int):
    def fail(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def test_disk_full_while_writing_gives_storage_error_and_no_partial_file(
    tmp_path: Path, make_frame, monkeypatch: pytest.MonkeyPatch, store_files
) -> None:
    store = ImageStore(tmp_path / "images")
    real_fdopen = os.fdopen
    calls = {"n": 0}

    class FillsUp:  # the first chunk lands on disk, then the disk is full
        def __init__(self, fh) -> None:
            self._fh = fh

        def write(self, data) -> int:
            calls["n"] += 1
            self._fh.write(bytes(data)[:100])
            self._fh.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self._fh.close()

        def __getattr__(self, name):
            return getattr(self._fh, name)

    monkeypatch.setattr(atomic_module.os, "fdopen", lambda *a, **k: FillsUp(real_fdopen(*a, **k)))
    with pytest.raises(StorageError, match="disk .* is full") as info:
        store.put_png(make_frame(5))
    assert "Free some space" in str(info.value)
    assert calls["n"] == 1
    assert store_files(store.root) == []  # neither the temporary nor a final file


def test_disk_full_at_fsync_leaves_no_file(
    store_files, tmp_path: Path, make_frame, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ImageStore(tmp_path / "images")
    monkeypatch.setattr(atomic_module.os, "fsync", _raise(errno.ENOSPC))
    with pytest.raises(StorageError, match="full"):
        store.put_png(make_frame(6))
    assert store_files(store.root) == []


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.EROFS, "read-only"), (errno.EACCES, "permission"), (errno.EIO, "Could not save")],
)
def test_other_write_failures_have_their_own_message(
    tmp_path: Path, make_frame, monkeypatch: pytest.MonkeyPatch, code: int, words: str, store_files
) -> None:
    store = ImageStore(tmp_path / "images")
    monkeypatch.setattr(atomic_module.tempfile, "mkstemp", _raise(code))
    with pytest.raises(StorageError, match=words):
        store.put_png(make_frame(7))
    assert store_files(store.root) == []


def test_missing_files_are_reported(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    sha = "ab" * 32
    assert store.find(sha) is None and not store.verify(sha)
    with pytest.raises(NotFoundError, match="missing"):
        store.read(sha)
    with pytest.raises(NotFoundError):
        store.path_of("../../etc/passwd")
    assert store.find("not-a-sha") is None


def test_stale_temporaries_from_a_crash_are_cleaned(store_files, tmp_path: Path, make_frame) -> None:
    store = ImageStore(tmp_path)
    kept = store.put_png(make_frame(8))
    stale = kept.path.parent / ".tmp-crashed.part"
    stale.write_bytes(b"half a png")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = kept.path.parent / ".tmp-writing-now.part"
    fresh.write_bytes(b"being written")
    assert store.remove_stale_temp_files(older_than_s=3600) == 1
    assert store_files(tmp_path) == sorted([kept.path, fresh])
