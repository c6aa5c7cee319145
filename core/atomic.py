"""Atomic file writes, the one implementation the station uses: a temp file in the target folder, flushed and
fsynced, renamed onto the target, and the folder entry flushed. A reader sees the old file or the new one, never a
half-written file; a crash leaves at most a temp file (named ``<prefix>...<suffix>``) for the next start's clean-up.

Whole folders (the converted models' caches) are published the same way by :func:`atomic_folder`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush the folder entry of a renamed file (POSIX); a no-op where folders cannot be opened (Windows)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "wb",
    encoding: str | None = None,
    *,
    newline: str | None = None,
    prefix: str | None = None,
    suffix: str | None = None,
    file_mode: int | None = None,
    sync_folder: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; when the block ends without an error it is flushed, fsynced and renamed
    onto ``path`` (and the folder flushed unless ``sync_folder`` is False); on an error it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=prefix if prefix is not None else f".{target.stem}-",
        suffix=suffix if suffix is not None else target.suffix + TEMP_SUFFIX,
        dir=target.parent,
    )
    try:
        if file_mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, file_mode)
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_folder:
        fsync_dir(target.parent)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, **options: Any) -> None:
    """``data`` to ``path`` atomically (options as :func:`atomic_open`)."""
    with atomic_open(path, "wb", **options) as fh:
        fh.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", **options: Any) -> None:
    """``text`` to ``path`` atomically (options as :func:`atomic_open`)."""
    with atomic_open(path, "w", encoding=encoding, **options) as fh:
        fh.write(text)


@contextmanager
def atomic_folder(target: str | os.PathLike[str], complete: Callable[[Path], bool]) -> Iterator[Path]:
    """A temp folder beside ``target`` for the block to fill; when the block ends without an error it is renamed
    onto ``target`` whole, so a reader finds no folder or the complete one. Where ``target`` exists by then
    (another process published the same content first) and ``complete(target)`` holds, that copy stays. The temp
    folder is removed in every case; an OSError (a full or read-only disk) reaches the caller."""
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", suffix=TEMP_SUFFIX, dir=final.parent))
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError:
            if not complete(final):  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["TEMP_SUFFIX", "atomic_folder", "atomic_open", "fsync_dir", "write_bytes_atomic", "write_text_atomic"]
