"""Defences shared by every importer and exporter.

Annotation files come from colleagues, web tools and the internet. They are read with
bounded memory (size limits before decoding), XML is parsed with defusedxml (no entity
expansion, no external entities), and paths inside them never reach outside the folders
the user chose. Outputs are written beside their destination and renamed into place, so a
failed conversion leaves nothing half-written.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import os
import shutil
import struct
import tempfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterator

import numpy as np

from seggui.core.atomic import atomic_open
from seggui.core.errors import FormatError, ImageReadError
from seggui.core.image_limits import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_PIXELS,
    HEADER_BYTES,
    ImageHeader,
    check_limits,
    pillow_header,
    png_chunk_problem,
    png_header,
)
from seggui.core import pillow_images
from seggui.core.image_formats import pillow_formats
from seggui.core.imageio import kind_from_magic
from seggui.core.safe_files import UnsafePathError, read_bytes_limited

# An annotation file larger than this is not an annotation file (COCO train2017 is 450 MB).
MAX_ANNOTATION_BYTES = int(os.environ.get("SEGGUI_MAX_ANNOTATION_BYTES", 2 * 1024**3))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_annotation_bytes(path: Path, what: str = "annotation file") -> bytes:
    """The bytes of an annotation file: a regular file (a FIFO would block), size-limited."""
    try:
        return read_bytes_limited(path, MAX_ANNOTATION_BYTES, what)
    except UnsafePathError as error:
        raise FormatError(error.message, path) from None
    except OSError as error:
        raise FormatError(f"cannot be read ({error.strerror or error})", path) from None


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every way it can be broken into a FormatError."""
    path = Path(path)
    raw = read_annotation_bytes(path, "JSON file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError(f"not UTF-8 text (byte {error.start})", path) from None
    try:
        # NaN/Infinity are legal in Python's JSON but never valid coordinates: refuse them here.
        return json.loads(text, parse_constant=_refuse_constant)
    except _BadConstant as error:
        raise FormatError(f"invalid JSON number {error.args[0]}", path) from None
    except json.JSONDecodeError as error:
        raise FormatError(f"malformed JSON ({error.msg} at line {error.lineno})", path) from None
    except RecursionError:
        raise FormatError("malformed JSON (nested too deeply)", path) from None


class _BadConstant(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _BadConstant(name)


def parse_xml(path: Path):
    """Parse XML without entity expansion or external resources; return the root element."""
    import defusedxml.ElementTree as SafeElementTree
    from defusedxml import DefusedXmlException
    from xml.etree.ElementTree import ParseError

    path = Path(path)
    raw = read_annotation_bytes(path, "XML file")
    try:
        return SafeElementTree.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as error:
        raise FormatError(
            f"refused: the XML declares entities or a DTD ({type(error).__name__}); "
            "annotation files never need them",
            path,
        ) from None
    except ParseError as error:
        raise FormatError(f"malformed XML ({error})", path) from None
    except (LookupError, ValueError) as error:  # an unknown or lying encoding="..." declaration
        raise FormatError(f"malformed XML ({type(error).__name__}: {error})", path) from None
    except OSError as error:
        raise FormatError(f"cannot be read ({error.strerror or error})", path) from None


def decode_base64(text: Any, where: Path, what: str, max_bytes: int = 512 * 1024**2) -> bytes:
    if not isinstance(text, str):
        raise FormatError(f"{what} is not a base64 string", where)
    if len(text) * 3 // 4 > max_bytes:
        raise FormatError(f"{what} is larger than {max_bytes:,} bytes", where)
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as error:
        raise FormatError(f"{what} is not valid base64 ({error})", where) from None


def inflate(data: bytes, where: Path, what: str, max_length: int) -> bytes:
    """zlib-decompress with an output bound, so a 1 kB bomb cannot become gigabytes."""
    decompressor = zlib.decompressobj()
    try:
        out = decompressor.decompress(data, max_length)
    except zlib.error as error:
        raise FormatError(f"{what} is not valid zlib data ({error})", where) from None
    if decompressor.unconsumed_tail:
        raise FormatError(f"{what} decompresses to more than {max_length:,} bytes", where)
    return out


def png_header_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) from a PNG's IHDR chunk, or None when the bytes are not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(height), int(width)


def embedded_image_header(data: bytes, where: Path, what: str) -> ImageHeader:
    """Decoded size of in-memory image bytes from their header (PNG chunk lengths checked)."""
    kind = kind_from_magic(data[:16])
    try:
        if kind == "png":
            header = png_header(data[:33])
            if problem := png_chunk_problem(data):
                raise FormatError(f"{what}: {problem}", where)
            return header
        if kind in ("jpeg", "bmp"):
            return pillow_header(data[:HEADER_BYTES], kind)
        if kind == "tiff":
            import tifffile

            with tifffile.TiffFile(io.BytesIO(data), _multifile=False) as tif:
                series = tif.series[0]
                shape, axes = tuple(series.shape), series.axes
                height, width = shape[axes.index("Y")], shape[axes.index("X")]
                channels = max(1, int(np.prod(shape)) // max(1, height * width))
                return ImageHeader(int(height), int(width), channels, series.dtype.itemsize)
        if kind in {name.lower() for name in pillow_formats()}:
            return pillow_images.header(data[:HEADER_BYTES], kind)
        return _other_header(data)
    except FormatError:
        raise
    except Exception as error:  # PIL and tifffile raise many types for broken headers
        raise FormatError(f"{what} is not a readable image ({type(error).__name__})", where) from None


def _other_header(data: bytes) -> ImageHeader:
    """Formats seggui does not sniff (WebP, GIF...): Image.open, with Pillow's own bomb guard on."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        mode = image.mode
    sample_bytes = 4 if mode in ("I", "F") else 2 if "16" in mode else 1
    return ImageHeader(int(height), int(width), 4 if mode == "P" else Image.getmodebands(mode), sample_bytes)


def decode_image_bytes(
    data: bytes, where: Path, what: str, max_pixels: int = DEFAULT_MAX_PIXELS, grayscale: bool = False,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
) -> np.ndarray:
    """Decode image bytes after bounding pixels and decoded bytes from the header."""
    import cv2

    header = embedded_image_header(data, where, what)
    height, width = header.height, header.width
    if height <= 0 or width <= 0 or height * width > max_pixels:
        raise FormatError(f"{what} is a {width}x{height} image, outside the allowed size", where)
    try:
        check_limits(header, where, max_pixels, max_bytes)
    except ImageReadError as error:
        raise FormatError(f"{what}: {error.message}", where) from None
    flag = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_UNCHANGED
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error:
        array = None
    if array is None and kind_from_magic(data[:4096]) not in (None, "png", "jpeg", "bmp", "tiff"):
        array = _decode_with_pillow(data, grayscale)  # GIF, JPEG 2000...: formats OpenCV may lack
        if array is not None:
            return array  # already RGB(A)
    if array is None:
        raise FormatError(f"{what} is corrupt image data", where)
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    return array


def _decode_with_pillow(data: bytes, grayscale: bool) -> np.ndarray | None:
    import cv2

    try:
        array = pillow_images.decode(data, kind_from_magic(data[:4096]) or "")[0]
    except Exception:  # Pillow raises many types on broken data: reported as corrupt by the caller
        return None
    if grayscale and array.ndim == 3:
        array = cv2.cvtColor(np.ascontiguousarray(array[..., :3]), cv2.COLOR_RGB2GRAY)
    return array


def encode_png(array: np.ndarray) -> bytes:
    import cv2

    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA)
    ok, buffer = cv2.imencode(".png", array)
    if not ok:  # pragma: no cover - cv2 encodes every uint8/uint16 array
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()


# --- paths ---------------------------------------------------------------------------

def path_name(text: str) -> str:
    """The last component of a path written on any OS (Windows backslashes included)."""
    if "\\" in text or (len(text) > 1 and text[1] == ":"):
        return PureWindowsPath(text).name
    return PurePosixPath(text).name


def _is_file(path: Path) -> bool:
    # Path.is_file raises for a name too long or a bad character; a reference that
    # cannot name a file is simply not found.
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


ANNOTATION_FOLDER_NAMES = ("annotations",)


def dataset_root(source: Path) -> Path:
    """The folder whose files an import may open: the folder chosen (or the chosen file's folder),
    or the folder above it when that is an `annotations/` folder, as in COCO's official layout
    (`annotations/instances_val2017.json` beside `val2017/`) and LabelMe datasets whose
    imagePath is `../images/x.png`. Nothing above that root is ever opened.
    """
    source = Path(source)
    folder = source if source.is_dir() else source.parent
    if folder.name.lower() in ANNOTATION_FOLDER_NAMES and folder.parent != folder:
        return folder.parent
    return folder


def find_referenced_image(
    reference: str | None,
    annotation_folder: Path,
    roots: list[Path],
    search_folders: list[Path],
) -> tuple[Path | None, str | None]:
    """Locate an image an annotation names, never opening anything outside `roots`.

    Returns (path or None, warning or None). Relative, absolute and Windows-style
    references are tried as written when they stay inside the allowed roots; otherwise
    only the bare file name is looked up in `search_folders` (the annotation's own
    folder and the --images folder), so that files moved from another machine still
    find their images while `../../etc/passwd` finds nothing.
    """
    if not reference or not isinstance(reference, str) or "\x00" in reference:
        return None, None
    warning = None
    windows = "\\" in reference or (len(reference) > 1 and reference[1] == ":")
    if not windows:
        candidate = Path(reference)
        if not candidate.is_absolute():
            candidate = annotation_folder / candidate
        if any(is_inside(candidate, root) for root in roots):
            if _is_file(candidate):
                return candidate.resolve(), None
        elif ".." in PurePosixPath(reference).parts or candidate.is_absolute():
            warning = f"image path {reference!r} points outside the source folder; not opened"
    elif ".." in PureWindowsPath(reference).parts:  # a traversal written with backslashes
        warning = f"image path {reference!r} points outside the source folder; not opened"
    name = path_name(reference)
    if name and name not in (".", ".."):
        for folder in search_folders:
            candidate = folder / name
            if _is_file(candidate) and any(is_inside(candidate, root) for root in roots):
                return candidate.resolve(), warning
    return None, warning


# --- atomic output ---------------------------------------------------------------------

def write_bytes_atomic(dest: Path, data: bytes) -> None:
    """Write a file via temp file + fsync + os.replace: readers see old or new, never half."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(dest) as handle:
        handle.write(data)


@contextlib.contextmanager
def staged_folder(dest: Path) -> Iterator[Path]:
    """Yield a temp folder beside `dest`; on success it replaces `dest`, on failure it vanishes.

    An existing `dest` folder is only swapped out once the new content is complete.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise FormatError("destination exists and is not a folder", dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(stage, 0o777 & ~umask)  # mkdtemp's 0700 would hide the export from colleagues
    try:
        yield stage
        _fsync_tree(stage)
        if dest.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            backup.rmdir()
            os.replace(dest, backup)
            try:
                os.replace(stage, dest)
            except BaseException:
                os.replace(backup, dest)
                raise
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(stage, dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
