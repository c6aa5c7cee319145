"""Bad files as references and imported images get the same checks as camera frames, and nothing a path or a name
says makes the station write outside its data folder (issue 14: the attack surface, tried)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageReadError
from core.imageio import MAX_FILE_BYTES, load_image, probe_image_bytes
from db.errors import DatabaseError, InvalidImageError, StorageError
from db.guarded import GuardedDatabase
from db.records import HistoryFilter
from db.repository import Database

pytestmark = pytest.mark.usefixtures("fast_hashes")  # argon2 at its cheapest (tests/conftest.py)


@pytest.fixture
def station(database: Database, make_frame):
    g = GuardedDatabase(database)
    admin = g.users.add(None, "root", "admin", "admin-password")
    eve = g.users.add(admin, "eve", "engineer", "engineer-password")
    product = g.create_product(eve, "widget", references=[make_frame(1)], calibration={"id": "c1", "threshold": 0.5})
    return g, eve, product


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's first bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def encoded(arr: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def nan_tiff() -> bytes:
    arr = np.full((32, 32), np.nan, np.float32)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="F").save(buf, format="TIFF")
    return buf.getvalue()


GOOD = np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)
BAD_FILES = {
    "empty": b"",
    "text": b"this is a shell script, not an image\n",
    "html-named-png": b"<html><script>alert(1)</script></html>",
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000"></svg>',
    "gif (a format the station does not read)": encoded(GOOD, "GIF"),
    "ico": encoded(GOOD, "ICO"),
    "truncated png": encoded(GOOD, "PNG")[:200],
    "decompression bomb (60000 x 60000 header)": png_header_only(60_000, 60_000),
    "huge dimensions (above 80 MP)": png_header_only(10_000, 9_000),
    "tiny (8 x 8)": encoded(np.zeros((8, 8, 3), np.uint8), "PNG"),
    "NaN float TIFF": nan_tiff(),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_core_refuses_each_bad_file_class_with_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "ref.png"
    path.write_bytes(BAD_FILES[name])
    with pytest.raises(ImageReadError) as err:
        load_image(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ImageReadError):
        probe_image_bytes(BAD_FILES[name])


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_a_bad_reference_file_is_refused_and_nothing_is_stored(station, tmp_path: Path, store_files, name) -> None:
    g, eve, product = station
    path = tmp_path / "upload" / "ref.png"
    path.parent.mkdir()
    path.write_bytes(BAD_FILES[name])
    files, events = store_files(g.database.store.root), g.audit.count()
    for given in (path, BAD_FILES[name]):  # a path (the file dialog, product create) and bytes (an import)
        with pytest.raises(InvalidImageError):
            g.add_references(eve, product.id, given)
    assert store_files(g.database.store.root) == files
    assert g.audit.count() == events
    assert g.database.products.get(product.id).reference_count == 1
    g.add_references(eve, product.id, GOOD)  # the station goes on working
    assert g.database.products.get(product.id).reference_count == 2


def test_a_device_a_pipe_and_a_folder_are_refused_without_reading_them(station, tmp_path: Path) -> None:
    g, eve, product = station
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # reading it would block for ever
    for path in (Path("/dev/zero"), fifo, tmp_path):
        with pytest.raises(ImageReadError, match="not a regular file|is a folder"):
            load_image(path)
        with pytest.raises(StorageError, match="not a regular file|is a folder"):
            g.add_references(eve, product.id, path)


def test_a_file_above_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ImageReadError, match="more than the 512 MB"):
        load_image(big)


def test_a_symbolic_link_to_a_good_image_is_read_as_that_image(station, tmp_path: Path) -> None:
    g, eve, product = station
    target = tmp_path / "good.png"
    target.write_bytes(encoded(GOOD, "PNG"))
    link = tmp_path / "link.png"
    link.symlink_to(target)
    (ref,) = g.add_references(eve, product.id, link)
    assert ref.image_file.is_file() and not ref.image_file.is_symlink()
    assert g.database.store.root in ref.image_file.parents


def test_the_image_store_never_writes_through_a_link_out_of_its_folder(station, tmp_path: Path) -> None:
    g, eve, product = station
    data = encoded(np.random.default_rng(9).integers(0, 256, (40, 40, 3), dtype=np.uint8), "PNG")
    import hashlib

    shard = g.database.store.root / hashlib.sha256(data).hexdigest()[:2]
    outside = tmp_path / "outside"
    outside.mkdir()
    if shard.exists():
        shard.rmdir()
    shard.symlink_to(outside, target_is_directory=True)  # someone planted a link in the data folder
    with pytest.raises(StorageError, match="leads out of the image store"):
        g.add_references(eve, product.id, data)
    assert list(outside.iterdir()) == []


def test_a_product_name_is_never_a_path(station, tmp_path: Path, make_frame) -> None:
    g, eve, _product = station
    before = set(tmp_path.rglob("*"))
    for name in ("../../escape", "/etc/passwd", "..\\..\\x", "a/../../b"):
        info = g.create_product(eve, name, references=[make_frame(5)])
        assert g.database.products.get(info.id).name == name
    created = set(tmp_path.rglob("*")) - before
    assert created and all(tmp_path / "data" in p.parents for p in created)


def test_an_export_replaces_a_planted_link_instead_of_writing_through_it(station, tmp_path: Path) -> None:
    g, eve, _product = station
    precious = tmp_path / "precious.txt"
    precious.write_text("do not overwrite")
    link = tmp_path / "history.csv"
    link.symlink_to(precious)
    g.export_history_csv(eve, HistoryFilter(), link)
    assert precious.read_text() == "do not overwrite"
    assert not link.is_symlink() and link.read_text().startswith("id,")


def test_bad_input_errors_are_database_errors_the_station_shows(station, tmp_path: Path) -> None:
    g, eve, product = station
    for given in (b"", tmp_path / "missing.png"):
        with pytest.raises(DatabaseError) as err:
            g.add_references(eve, product.id, given)
        assert str(err.value) and "Traceback" not in str(err.value)
