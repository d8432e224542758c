"""Atomic file writes: a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from seggui.core.errors import ImageReadError, ProjectError
from seggui.core.safe_files import UnsafePathError, open_regular


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders this way.
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _default_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777  # keep the mode of the file being replaced
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Write to a temporary file beside `path`; on success flush, fsync and os.replace.

    On any exception the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    folder = path.parent
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise ProjectError(f"cannot write here ({error.strerror or error})", path) from error
    temp = Path(temp_name)
    try:
        # mkstemp creates 0600 files; a project shared with colleagues needs the usual mode.
        os.chmod(temp, _default_mode(path))
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            temp.unlink()
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    try:
        with atomic_open(path) as handle:
            handle.write(data)
    except ProjectError:
        raise
    except OSError as error:
        raise ProjectError(f"could not be written ({error.strerror or error})", path) from error


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path, chunk_size: int = 4 * 1024 * 1024) -> str:
    """Content hash of an image file; a FIFO or device is refused, not waited on forever."""
    try:
        handle = open_regular(path, "file")
    except UnsafePathError as error:
        raise ImageReadError(error.message, path) from None
    digest = hashlib.sha256()
    with handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
