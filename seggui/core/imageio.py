"""Read raw image pixels (never reduced: 16-bit stays 16-bit) with bounded memory.

The file's type is decided by its first bytes, not its extension, so that a text file
named .png gives a clear error rather than a decoder crash. Sizes are checked against a
pixel limit from the header before anything is decoded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seggui.core.errors import ImageReadError

# 16384 x 16384 = 268 M pixels: well beyond any slide tile we open whole, well below 24 GiB.
DEFAULT_MAX_PIXELS = int(os.environ.get("SEGGUI_MAX_PIXELS", 16384 * 16384))

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)


@dataclass
class ImageData:
    """Pixels as stored (H, W) or (H, W, C), plus what the file says about them."""

    array: np.ndarray
    path: Path
    kind: str  # png, jpeg, bmp, tiff
    channel_names: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    page: int = 0
    page_count: int = 1

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def channels(self) -> int:
        return 1 if self.array.ndim == 2 else int(self.array.shape[2])


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def sniff_kind(path: Path) -> str:
    """Return the image kind from the file's magic bytes, or raise a clear error."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        raise ImageReadError("file not found", path) from None
    except IsADirectoryError:
        raise ImageReadError("is a folder, not an image file", path) from None
    except OSError as error:
        raise ImageReadError(f"cannot be read ({error.strerror or error})", path) from None
    if not head:
        raise ImageReadError("file is empty", path)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    raise ImageReadError(
        f"not a PNG, JPEG, BMP or TIFF image (starts with {head[:8]!r})", path
    )


def _check_pixels(path: Path, height: int, width: int, max_pixels: int) -> None:
    if height <= 0 or width <= 0:
        raise ImageReadError(f"image has no pixels ({width}x{height})", path)
    if height * width > max_pixels:
        raise ImageReadError(
            f"image is {width}x{height} = {height * width:,} pixels, above the limit of "
            f"{max_pixels:,} (set SEGGUI_MAX_PIXELS to raise it)",
            path,
        )


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) from the header alone, without decoding pixels."""
    path = Path(path)
    kind = sniff_kind(path)
    if kind == "tiff":
        shape, axes, _ = _tiff_layout(path)
        if "Y" not in axes or "X" not in axes or len(shape) != len(axes):
            raise ImageReadError(f"TIFF has no image plane (axes {axes})", path)
        return shape[axes.index("Y")], shape[axes.index("X")]
    return _header_size(path)


def _header_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # we apply our own limit, before decoding
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Exception as error:  # PIL raises many types for broken headers
        raise ImageReadError(f"broken image header ({error})", path) from None
    return int(height), int(width)


def read_image(
    path: str | Path, page: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageData:
    """Read one image (one plane of a multi-page TIFF) as its raw array."""
    path = Path(path)
    kind = sniff_kind(path)
    if kind == "tiff":
        return _read_tiff(path, page, max_pixels)
    height, width = _header_size(path)
    _check_pixels(path, height, width, max_pixels)
    return _read_with_opencv(path, kind)


def png_chunk_problem(data: bytes | np.ndarray) -> str | None:
    """Why a PNG's chunk list is broken (a chunk longer than the file), or None.

    OpenCV spends seconds on one flipped length byte (a 145 kB file whose IDAT claims
    2 GB), so the chunk lengths are walked first: a linear scan of a few headers.
    """
    view = memoryview(data).cast("B")
    position, size = 8, len(view)
    while position + 8 <= size:
        length = int.from_bytes(view[position:position + 4], "big")
        kind = bytes(view[position + 4:position + 8])
        if length > size - position - 12:
            return (f"truncated or corrupt PNG: chunk {kind!r} declares {length:,} bytes, "
                    f"the file has {max(size - position - 12, 0):,} left")
        if kind == b"IEND":
            return None
        position += 12 + length
    return "truncated PNG: no IEND chunk"


def _read_with_opencv(path: Path, kind: str) -> ImageData:
    import cv2

    # np.fromfile + imdecode works with non-ASCII paths where cv2.imread does not.
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(f"cannot be read ({error})", path) from None
    if kind == "png" and (problem := png_chunk_problem(raw)):
        raise ImageReadError(problem, path)
    array = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError(f"corrupt or truncated {kind.upper()} data", path)
    if array.ndim == 3:
        if array.shape[2] == 3:
            array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
        elif array.shape[2] == 4:
            array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    names = {2: [], 3: ["red", "green", "blue"]}.get(array.ndim, [])
    if array.ndim == 3 and array.shape[2] == 4:
        names = ["red", "green", "blue", "alpha"]
    return ImageData(np.ascontiguousarray(array), path, kind, channel_names=names)


def _tiff_layout(path: Path) -> tuple[tuple[int, ...], str, Any]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return tuple(series.shape), series.axes, tif.is_ome
    except MemoryError:
        raise ImageReadError("not enough memory to read this TIFF's header", path) from None
    except Exception as error:  # broken tags make tifffile raise TypeError, ZeroDivisionError, AssertionError...
        raise ImageReadError(f"corrupt or truncated TIFF ({type(error).__name__}: {error})", path) from None


def struct_error() -> type:
    import struct

    return struct.error


_CHANNEL_AXES = "CS"  # tifffile: C = channel, S = samples (RGB)


def _read_tiff(path: Path, page: int, max_pixels: int) -> ImageData:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes = series.axes
            shape = tuple(series.shape)
            if "Y" not in axes or "X" not in axes:
                raise ImageReadError(f"TIFF has no image plane (axes {axes})", path)
            height, width = shape[axes.index("Y")], shape[axes.index("X")]
            _check_pixels(path, height, width, max_pixels)
            plane_axes = [i for i, a in enumerate(axes) if a not in "YX" + _CHANNEL_AXES]
            plane_shape = [shape[i] for i in plane_axes]
            page_count = int(np.prod(plane_shape)) if plane_shape else 1
            if not 0 <= page < page_count:
                raise ImageReadError(f"plane {page} requested, the file has {page_count}", path)
            channel_axes = [i for i, a in enumerate(axes) if a in _CHANNEL_AXES]
            channels = int(np.prod([shape[i] for i in channel_axes])) if channel_axes else 1
            _check_pixels(path, height * channels, width, max_pixels)
            metadata = _tiff_metadata(tif)
            if page_count == 1:
                data = series.asarray()
            else:
                # Read only the chosen plane: memory stays bounded for long stacks.
                data = _read_tiff_plane(tif, series, axes, shape, plane_axes, page)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError("not enough memory to decode this TIFF", path) from None
    except Exception as error:  # tifffile/imagecodecs raise many types on broken data
        raise ImageReadError(f"corrupt or truncated TIFF ({error})", path) from None
    try:
        array = _to_yxc(np.asarray(data), axes, page_count > 1)
    except ValueError as error:  # broken tags: the data does not have the shape the axes describe
        raise ImageReadError(f"corrupt TIFF: pixel data does not match its axes {axes} ({error})", path) from None
    names = _channel_names(metadata, array)
    return ImageData(
        np.ascontiguousarray(array), path, "tiff", names, metadata, page, page_count
    )


def _read_tiff_plane(tif, series, axes, shape, plane_axes, page):
    plane_index = np.unravel_index(page, [shape[i] for i in plane_axes])
    pages_per_plane = len(series.pages) // max(1, int(np.prod([shape[i] for i in plane_axes])))
    if pages_per_plane >= 1 and len(series.pages) == int(np.prod([shape[i] for i in plane_axes])):
        return series.pages[page].asarray()
    full = series.asarray()
    index = [slice(None)] * len(shape)
    for axis, value in zip(plane_axes, plane_index):
        index[axis] = int(value)
    return full[tuple(index)]


def _to_yxc(data: np.ndarray, axes: str, plane_selected: bool) -> np.ndarray:
    """Reorder to (H, W) or (H, W, C) whatever the file's axis order."""
    if plane_selected:
        kept = [a for a in axes if a in "YX" + _CHANNEL_AXES]
        if data.ndim != len(kept):  # a single page read straight from the file
            kept = ["Y", "X"] + (["S"] if data.ndim == 3 else [])
    else:
        kept = list(axes)
        # Drop singleton non-image axes (T=1, Z=1, Q=1 ...).
        while len(kept) > data.ndim:
            kept.pop(0)
    order_yx = [kept.index("Y"), kept.index("X")]
    rest = [i for i, a in enumerate(kept) if a not in "YX"]
    data = np.transpose(data, order_yx + rest)
    if data.ndim > 3:
        data = data.reshape(data.shape[0], data.shape[1], -1)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    return data


def _tiff_metadata(tif) -> dict[str, Any]:
    metadata: dict[str, Any] = {"ome": bool(tif.is_ome)}
    if tif.is_ome:
        try:
            import tifffile

            ome = tifffile.xml2dict(tif.ome_metadata)
            pixels = ome["OME"]["Image"]
            pixels = pixels[0] if isinstance(pixels, list) else pixels
            pixels = pixels["Pixels"]
            for key in ("PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeXUnit", "DimensionOrder"):
                if key in pixels:
                    metadata[key] = pixels[key]
            channels = pixels.get("Channel", [])
            channels = channels if isinstance(channels, list) else [channels]
            metadata["channel_names"] = [str(c.get("Name", "")) for c in channels]
        except Exception:  # OME-XML is advisory: a broken one must not block the pixels
            metadata["ome_error"] = "OME-XML could not be parsed"
    return metadata


def _channel_names(metadata: dict[str, Any], array: np.ndarray) -> list[str]:
    if array.ndim == 2:
        return []
    names = [n for n in metadata.get("channel_names", []) if n]
    if len(names) == array.shape[2]:
        return names
    if array.shape[2] == 3:
        return ["red", "green", "blue"]
    return [f"channel {i}" for i in range(array.shape[2])]
