"""Atomic file writes: a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

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


def encode_label_image(labels: np.ndarray) -> tuple[bytes, str]:
    """Lossless bytes for a label image: 16-bit PNG when ids fit, else zlib TIFF (32-bit)."""
    import cv2

    if labels.dtype == np.uint8:
        labels = labels.astype(np.uint16)
    if labels.dtype == np.uint16:
        ok, buffer = cv2.imencode(".png", labels, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            raise ProjectError("PNG encoding of a label image failed")
        return buffer.tobytes(), ".png"
    if labels.dtype == np.uint32:
        import io

        import tifffile

        stream = io.BytesIO()
        tifffile.imwrite(stream, labels, compression="zlib", compressionargs={"level": 3})
        return stream.getvalue(), ".tif"
    raise ProjectError(f"label images must be uint8/16/32, got {labels.dtype}")


def write_label_image(path: str | Path, labels: np.ndarray) -> None:
    data, _ = encode_label_image(labels)
    atomic_write_bytes(path, data)


def read_label_image(path: str | Path) -> np.ndarray:
    """Read a label image written by seggui (or any integer PNG/TIFF) bit for bit."""
    from seggui.core.imageio import read_image

    image = read_image(path)
    array = image.array
    if array.ndim != 2:
        raise ImageReadError(f"label image must have one channel, found shape {array.shape}", path)
    if array.dtype.kind not in "ui":
        raise ImageReadError(f"label image must hold integers, found {array.dtype}", path)
    if array.dtype == np.uint8:
        array = array.astype(np.uint16)
    elif array.dtype.kind == "i" or array.dtype.itemsize > 4:
        if array.size and int(array.min()) < 0:
            raise ImageReadError("label image holds negative values", path)
        array = array.astype(np.uint32)
    return array
