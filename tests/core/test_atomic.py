"""core/atomic.py: a file or a whole folder appears complete or not at all, and nothing half-written stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.atomic import atomic_folder, atomic_open, write_bytes_atomic, write_text_atomic


def test_a_file_is_replaced_whole_and_a_failed_write_keeps_the_old_one(tmp_path: Path):
    target = tmp_path / "sub" / "settings.json"
    write_text_atomic(target, "one")
    write_bytes_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    with pytest.raises(RuntimeError), atomic_open(target, "wb") as fh:
        fh.write(b"half")
        raise RuntimeError("the disk went away")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["settings.json"]  # no temp file left


def test_a_folder_is_published_whole(tmp_path: Path):
    target = tmp_path / "cache" / "model-v1"
    with atomic_folder(target, complete=lambda found: (found / "done").is_file()) as tmp:
        assert not target.exists()  # nothing is visible while it is written
        (tmp / "weights.bin").write_bytes(b"\0" * 10)
        (tmp / "done").write_text("ok")
    assert sorted(p.name for p in target.iterdir()) == ["done", "weights.bin"]
    assert [p.name for p in target.parent.iterdir()] == ["model-v1"]


def test_a_failed_folder_leaves_nothing(tmp_path: Path):
    target = tmp_path / "model-v1"
    with pytest.raises(OSError), atomic_folder(target, complete=lambda _found: False) as tmp:
        (tmp / "weights.bin").write_bytes(b"\0")
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_a_copy_published_first_by_another_process_stays(tmp_path: Path):
    target = tmp_path / "model-v1"
    with atomic_folder(target, complete=lambda found: (found / "done").is_file()) as tmp:
        (tmp / "done").write_text("mine")
        target.mkdir()  # another process got there first, with a complete copy
        (target / "done").write_text("theirs")
        (target / "more").write_text("x")
    assert (target / "done").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["model-v1"]


def test_an_incomplete_folder_in_the_way_is_an_error(tmp_path: Path):
    target = tmp_path / "model-v1"
    with pytest.raises(OSError), atomic_folder(target, complete=lambda found: (found / "done").is_file()) as tmp:
        (tmp / "done").write_text("mine")
        target.mkdir()
        (target / "junk").write_text("x")  # not a complete copy: replacing a non-empty folder fails
    assert [p.name for p in tmp_path.iterdir()] == ["model-v1"]
