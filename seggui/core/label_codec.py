"""The label-image codec: a project's masks on disk, lossless and bit for bit.

16-bit PNG when the ids fit, else zlib TIFF (32-bit); written atomically (core.atomic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seggui.core.atomic import atomic_write_bytes
from seggui.core.errors import ImageReadError, ProjectError


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
