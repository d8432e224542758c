"""Read raw image pixels (never reduced: 16-bit stays 16-bit) with bounded memory.

The file's type is decided by its first bytes, not its extension, so that a text file
named .png gives a clear error rather than a decoder crash. Only regular files are opened
(a FIFO would block the reader forever), the decoded size (pixels, channels and bit depth)
is checked against limits from the header before anything is decoded, and no more of the
file is read than its image needs (see seggui.core.image_limits).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from seggui.core import microscopy, pillow_images
from seggui.core.errors import ImageReadError
from seggui.core.image_formats import image_files, image_suffixes, is_image_file, kind_from_magic
from seggui.core.image_limits import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_PIXELS,
    HEADER_BYTES,
    ImageHeader,
    PngProblem,
    check_limits,
    pillow_header,
    png_chunk_problem,
    png_extent,
    png_header,
    read_budget,
    tiff_stored_bytes,
)
from seggui.core.microscopy import is_zarr_folder
from seggui.core.safe_files import UnsafePathError, open_regular

__all__ = ["DEFAULT_MAX_IMAGE_BYTES", "DEFAULT_MAX_PIXELS", "ImageData", "PageInfo", "describe_pages", "image_files",
           "image_size", "image_suffixes", "is_image_file", "is_zarr_folder", "kind_from_magic", "pixel_size_um",
           "png_chunk_problem", "read_image", "sniff_kind"]

_CORE_KINDS = ("png", "jpeg", "bmp", "tiff")  # decoded by OpenCV or tifffile; other kinds by Pillow or bioio
_HEAD = 4096  # enough for every signature and for a TGA header with its palette


@dataclass
class ImageData:
    """Pixels as stored (H, W) or (H, W, C), plus what the file says about them."""

    array: np.ndarray
    path: Path
    kind: str  # png, jpeg, bmp, tiff, a Pillow format (webp, gif...) or a microscope kind (czi, lif...)
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

    @property
    def pixel_size_um(self) -> tuple[float, float] | None:
        """(x, y) size of one pixel in µm, from PhysicalSizeX/Y (OME-TIFF, microscope files); None when
        the file does not say or says it in a unit other than a length."""
        return pixel_size_um(self.metadata)


_UNITS_IN_UM = {"µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "micrometer": 1.0, "nm": 1e-3, "mm": 1e3,
                "cm": 1e4, "m": 1e6, "pm": 1e-6, "Å": 1e-4}


def pixel_size_um(metadata: dict[str, Any]) -> tuple[float, float] | None:
    def size(axis: str) -> float | None:
        try:
            value = float(metadata[f"PhysicalSize{axis}"])
        except (KeyError, TypeError, ValueError):
            return None
        scale = _UNITS_IN_UM.get(str(metadata.get(f"PhysicalSize{axis}Unit", "µm")).strip())
        return value * scale if scale is not None and np.isfinite(value) and value > 0 else None

    x, y = size("X"), size("Y")
    if x is None:
        return None
    return x, (y if y is not None else x)


@contextlib.contextmanager
def _open_image(path: Path) -> Iterator[tuple[BinaryIO | None, int, str]]:
    """(handle, file size, kind) of an image file; anything but a regular file is refused.

    An OME-Zarr image is a folder: it is yielded with no handle.
    """
    if is_zarr_folder(path):
        yield None, 0, "ome-zarr"
        return
    try:
        handle = open_regular(path, "file")
    except UnsafePathError as error:
        raise ImageReadError(error.message, path) from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            head = handle.read(_HEAD)
        except OSError as error:
            raise ImageReadError(f"cannot be read ({error.strerror or error})", path) from None
        if not head:
            raise ImageReadError("file is empty", path)
        kind = kind_from_magic(head) or pillow_images.kind_without_magic(head)
        if kind is None:
            raise ImageReadError(f"not a PNG, JPEG, TIFF, WebP, GIF, microscope or other image seggui reads "
                                 f"(starts with {head[:8]!r})", path)
        handle.seek(0)
        yield handle, size, kind


def sniff_kind(path: str | Path) -> str:
    """Return the image kind from the file's magic bytes, or raise a clear error."""
    with _open_image(Path(path)) as (_, _, kind):
        return kind


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) from the header alone, without decoding pixels."""
    path = Path(path)
    with _open_image(path) as (handle, size, kind):
        if kind in microscopy.KINDS:
            with microscopy.open_source(path, kind) as source:
                return source.scenes[0].rows, source.scenes[0].cols
        if kind == "tiff":
            shape, axes, _ = _tiff_layout(path, handle)
            if "Y" not in axes or "X" not in axes or len(shape) != len(axes):
                raise ImageReadError(f"TIFF has no image plane (axes {axes})", path)
            return shape[axes.index("Y")], shape[axes.index("X")]
        header = _header(handle, path, kind)
        return header.height, header.width


@dataclass(frozen=True)
class PageInfo:
    """One plane `read_image(path, page=index)` reads, described from metadata alone."""

    index: int
    scene: int  # 0-based; always 0 outside microscope files
    scene_name: str
    t: int | None  # 0-based position on the T axis, None when the scene has no T axis
    z: int | None
    height: int
    width: int
    channels: int
    dtype: str
    label: str = ""  # "scene 2, z 5" (1-based, as microscope software counts); "" for a one-page file
    axes: tuple[tuple[str, int], ...] = ()  # every axis a page steps through, with its 0-based index


def _plane_label(scene: int, scene_count: int, index: dict[str, int]) -> str:
    parts = [f"scene {scene + 1}"] if scene_count > 1 else []
    generic = {"I", "Q"}  # tifffile's names for an unknown page axis
    parts += [f"page {value + 1}" if axis in generic else f"{axis.lower()} {value + 1}" for axis, value in index.items()]
    return ", ".join(parts)


def _pages_of(scene: int, scene_count: int, name: str, planes: dict[str, int], start: int, height: int,
              width: int, channels: int, dtype: str) -> list[PageInfo]:
    pages = []
    for number, values in enumerate(np.ndindex(*planes.values()) if planes else [()]):
        index = {axis: int(v) for axis, v in zip(planes, values)}
        pages.append(PageInfo(start + number, scene, name, index.get("T"), index.get("Z"), height, width, channels,
                              dtype, _plane_label(scene, scene_count, index), tuple(index.items())))
    return pages


def describe_pages(path: str | Path) -> list[PageInfo]:
    """Every page of an image file (scenes, then T, then Z for microscope files; the planes of a
    multi-page TIFF), from metadata only: no pixel is decoded. A single image is one page."""
    path = Path(path)
    with _open_image(path) as (handle, size, kind):
        if kind in microscopy.KINDS:
            with microscopy.open_source(path, kind) as source:
                pages: list[PageInfo] = []
                for number, scene in enumerate(source.scenes):
                    pages += _pages_of(number, len(source.scenes), scene.name, scene.planes, len(pages), scene.rows,
                                       scene.cols, scene.channels, str(scene.dtype))
                return pages
        if kind == "tiff":
            try:
                with _tiff_file(path, handle) as tif:
                    series = tif.series[0]
                    shape, axes, dtype = tuple(series.shape), series.axes, str(series.dtype)
            except MemoryError:
                raise ImageReadError("not enough memory to read this TIFF's header", path) from None
            except Exception as error:
                raise ImageReadError(f"corrupt or truncated TIFF ({type(error).__name__}: {error})", path) from None
            if "Y" not in axes or "X" not in axes or len(shape) != len(axes):
                raise ImageReadError(f"TIFF has no image plane (axes {axes})", path)
            planes = {a: int(n) for a, n in zip(axes, shape) if a not in "YX" + _CHANNEL_AXES and n > 1}
            channels = int(np.prod([n for a, n in zip(axes, shape) if a in _CHANNEL_AXES] or [1]))
            return _pages_of(0, 1, "", planes, 0, shape[axes.index("Y")], shape[axes.index("X")], channels, dtype)
        header = _header(handle, path, kind)
        return [PageInfo(0, 0, "", None, None, header.height, header.width, header.channels,
                         f"uint{8 * header.sample_bytes}")]


def _header(handle: BinaryIO, path: Path, kind: str) -> ImageHeader:
    """The header of any image but a TIFF; the handle is left just past the bytes read for it."""
    try:
        head = handle.read(33 if kind == "png" else HEADER_BYTES)  # IHDR is always first
        if kind == "png":
            return png_header(head)
        return pillow_header(head, kind) if kind in _CORE_KINDS else pillow_images.header(head, kind)
    except PngProblem as problem:
        raise ImageReadError(str(problem), path) from None
    except OSError as error:
        raise ImageReadError(f"cannot be read ({error.strerror or error})", path) from None
    except Exception as error:  # PIL raises many types for broken headers
        raise ImageReadError(f"broken image header ({error})", path) from None


def read_image(path: str | Path, page: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS,
               max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> ImageData:
    """Read one image (one plane of a multi-page TIFF or of a microscope file) as its raw array.

    `max_pixels` bounds width x height, `max_bytes` the decoded size (channels and bit depth
    included); both are checked from the header, before any pixel data is read. A microscope
    file numbers the planes of all its scenes in turn (see seggui.core.microscopy).
    """
    path = Path(path)
    with _open_image(path) as (handle, size, kind):
        if kind in microscopy.KINDS:
            return _read_microscopy(path, kind, page, max_pixels, max_bytes)
        if kind == "tiff":
            return _read_tiff(path, handle, page, max_pixels, max_bytes)
        header = _header(handle, path, kind)
        check_limits(header, path, max_pixels, max_bytes)
        budget = read_budget(header.decoded_bytes)
        metadata: dict[str, Any] = {}
        try:
            if kind == "png":
                end = png_extent(handle, size, budget)
                if end < size:  # a valid PNG ends at IEND; what follows is never read
                    metadata["ignored_trailing_bytes"] = size - end
            elif kind == "webp":  # a RIFF file ends where its header says
                handle.seek(0)
                end = min(size, pillow_images.webp_extent(handle.read(8)), budget)
            else:  # other data ends within the budget; any padding after it is left unread
                end = min(size, budget)
            handle.seek(0)
            raw = handle.read(end)
        except PngProblem as problem:
            raise ImageReadError(str(problem), path) from None
        except OSError as error:
            raise ImageReadError(f"cannot be read ({error.strerror or error})", path) from None
    image = _decode_with_opencv(raw, path, kind) if kind in _CORE_KINDS else _decode_with_pillow(raw, path, kind)
    image.metadata.update(metadata)
    return image


def _decode_with_pillow(raw: bytes, path: Path, kind: str) -> ImageData:
    try:
        array, names, metadata = pillow_images.decode(raw, kind)
    except MemoryError:
        raise ImageReadError(f"not enough memory to decode this {kind.upper()} image", path) from None
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError...
        raise ImageReadError(f"corrupt or truncated {kind.upper()} data ({type(error).__name__}: {error})",
                             path) from None
    return ImageData(np.ascontiguousarray(array), path, kind, channel_names=names, metadata=metadata)


def _read_microscopy(path: Path, kind: str, page: int, max_pixels: int,
                     max_bytes: int) -> ImageData:
    with microscopy.open_source(path, kind) as source:
        scene_number, index = microscopy.locate(source.scenes, page, path)
        scene = source.scenes[scene_number]
        header = ImageHeader(scene.rows, scene.cols, scene.channels, scene.dtype.itemsize)
        check_limits(header, path, max_pixels, max_bytes)
        _check_samples(header, path, max_pixels)
        array = microscopy.read(source, scene_number, index, path, kind)
        metadata = microscopy.metadata_of(source.scenes, scene_number, index)
        page_count = sum(s.plane_count for s in source.scenes)
    names = _channel_names(metadata, array)
    return ImageData(np.ascontiguousarray(array), path, kind, names, metadata, page, page_count)


def _check_samples(header: ImageHeader, path: Path, max_pixels: int) -> None:
    """Channels count against the pixel limit for multichannel stacks, as they always have for TIFF."""
    samples = header.height * header.width * header.channels
    if samples > max_pixels:
        raise ImageReadError(
            f"image is {header.width}x{header.height} x {header.channels} channels = {samples:,} "
            f"samples, above the limit of {max_pixels:,} (set SEGGUI_MAX_PIXELS to raise it)", path)


def _decode_with_opencv(raw: bytes, path: Path, kind: str) -> ImageData:
    import cv2

    try:
        array = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # libpng/libjpeg errors surface as cv2.error
        raise ImageReadError(f"corrupt {kind.upper()} data ({str(error).strip()[-200:]})", path) from None
    if array is None:
        raise ImageReadError(f"corrupt or truncated {kind.upper()} data", path)
    if array.ndim == 3:  # in place: no second copy of a large image
        if array.shape[2] == 3:
            cv2.cvtColor(array, cv2.COLOR_BGR2RGB, dst=array)
        elif array.shape[2] == 4:
            cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA, dst=array)
    names = {2: [], 3: ["red", "green", "blue"]}.get(array.ndim, [])
    if array.ndim == 3 and array.shape[2] == 4:
        names = ["red", "green", "blue", "alpha"]
    return ImageData(np.ascontiguousarray(array), path, kind, channel_names=names)


def _tiff_file(path: Path, handle: BinaryIO):
    """tifffile on the already opened handle (no second open of the path).

    `_multifile=False`: an OME-XML block names other files to read by name, and those would
    be opened without our checks (a `../` name, a FIFO); only this file's pages are read.
    """
    import tifffile

    return tifffile.TiffFile(handle, name=path.name, _multifile=False)


def _tiff_layout(path: Path, handle: BinaryIO) -> tuple[tuple[int, ...], str, Any]:
    try:
        with _tiff_file(path, handle) as tif:
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


def _read_tiff(path: Path, handle: BinaryIO, page: int, max_pixels: int, max_bytes: int) -> ImageData:
    try:
        with _tiff_file(path, handle) as tif:
            series = tif.series[0]
            axes = series.axes
            shape = tuple(series.shape)
            if "Y" not in axes or "X" not in axes:
                raise ImageReadError(f"TIFF has no image plane (axes {axes})", path)
            height, width = shape[axes.index("Y")], shape[axes.index("X")]
            check_limits(ImageHeader(height, width), path, max_pixels, max_bytes)
            plane_axes = [i for i, a in enumerate(axes) if a not in "YX" + _CHANNEL_AXES]
            plane_shape = [shape[i] for i in plane_axes]
            page_count = int(np.prod(plane_shape)) if plane_shape else 1
            if not 0 <= page < page_count:
                raise ImageReadError(f"plane {page} requested, the file has {page_count}", path)
            channel_axes = [i for i, a in enumerate(axes) if a in _CHANNEL_AXES]
            channels = int(np.prod([shape[i] for i in channel_axes])) if channel_axes else 1
            _check_samples(ImageHeader(height, width, channels), path, max_pixels)
            # One page per plane: the chosen page is read alone; otherwise the series is decoded whole.
            one_page = page_count > 1 and len(series.pages) == page_count
            planes = 1 if one_page else page_count
            header = ImageHeader(height, width, channels, series.dtype.itemsize, planes)
            check_limits(header, path, max_pixels, max_bytes)
            _check_tiff_stored_bytes(path, [series.pages[page]] if one_page else series.pages, header)
            metadata = _tiff_metadata(tif)
            if page_count == 1:
                data = series.asarray()
            elif one_page:  # memory stays bounded for long stacks
                data = series.pages[page].asarray()
            else:
                data = _tiff_plane_of(series.asarray(), shape, plane_axes, page)
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


def _check_tiff_stored_bytes(path: Path, pages, header: ImageHeader) -> None:
    """Strip/tile byte counts are read as declared: a 64x64 image claiming 3 GB is refused."""
    stored, budget = tiff_stored_bytes(pages), read_budget(header.decoded_bytes)
    if stored > budget:
        raise ImageReadError(
            f"corrupt TIFF: its strips or tiles declare {stored:,} bytes, more than a "
            f"{header.width}x{header.height} image can need ({budget:,})", path)


def _tiff_plane_of(full: np.ndarray, shape, plane_axes, page: int) -> np.ndarray:
    plane_index = np.unravel_index(page, [shape[i] for i in plane_axes])
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
            for key in ("PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeXUnit", "PhysicalSizeYUnit", "DimensionOrder"):
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
