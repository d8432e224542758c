"""What an image costs once decoded, read from its header alone, and the limits on that cost.

A pixel count misses most of the cost: a 2 MB PNG of 16384x16384 RGBA 16-bit passes a pixel
limit and decodes to 2 GiB. So every reader works out the decoded bytes (pixels x channels x
bytes per sample) from the header and checks them before decoding, and reads at most a budget
derived from that size, so that a small image followed by gigabytes of padding is never read
whole. Pillow only ever reads headers here, through its format plugin classes: `Image.open`
would apply (and need us to switch off) Pillow's process-wide decompression-bomb guard.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from seggui.core.errors import ImageReadError

# 16384 x 16384 = 268 M pixels: well beyond any slide tile we open whole, well below 24 GiB.
DEFAULT_MAX_PIXELS = int(os.environ.get("SEGGUI_MAX_PIXELS", 16384 * 16384))
# Decoded size of one image (or one TIFF plane): 4 GiB holds 16384^2 RGBA 16-bit twice over.
DEFAULT_MAX_IMAGE_BYTES = int(float(os.environ.get("SEGGUI_MAX_IMAGE_MB", 4096)) * 1024**2)

# Pillow's JPEG header reader steps byte by byte over junk: it only ever sees this much.
HEADER_BYTES = 4 * 1024**2
_SLACK = 64 * 1024**2  # metadata (ICC, EXIF, text chunks) and TIFF tile padding at the edges
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Channels as OpenCV decodes each PNG colour type: palette and grey+alpha become BGR(A).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}


@dataclass(frozen=True)
class ImageHeader:
    height: int
    width: int
    channels: int = 1  # as decoded (an upper bound where the decoder may expand a palette)
    sample_bytes: int = 1
    planes: int = 1  # TIFF planes decoded together

    @property
    def decoded_bytes(self) -> int:
        return self.height * self.width * self.channels * self.sample_bytes * self.planes


def read_budget(decoded_bytes: int) -> int:
    """The most bytes read from a file for an image of this decoded size.

    Compressed data is never much larger than raw (PNG adds one filter byte per row, zlib a
    few per block), so twice the decoded size plus room for metadata holds any real file.
    """
    return 2 * decoded_bytes + _SLACK


def check_limits(header: ImageHeader, path: str | Path | None, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_bytes: int = DEFAULT_MAX_IMAGE_BYTES) -> None:
    height, width = header.height, header.width
    if height <= 0 or width <= 0:
        raise ImageReadError(f"image has no pixels ({width}x{height})", path)
    if height * width > max_pixels:
        raise ImageReadError(
            f"image is {width}x{height} = {height * width:,} pixels, above the limit of "
            f"{max_pixels:,} (set SEGGUI_MAX_PIXELS to raise it)", path)
    if header.decoded_bytes > max_bytes:
        planes = f" x {header.planes} planes" if header.planes > 1 else ""
        raise ImageReadError(
            f"image is {width}x{height} x {header.channels} channel(s) x {8 * header.sample_bytes}-bit"
            f"{planes} = {_mib(header.decoded_bytes)} decoded, above the limit of {_mib(max_bytes)} "
            "(set SEGGUI_MAX_IMAGE_MB to raise it)", path)


def _mib(count: int) -> str:
    return f"{count / 1024**2:,.0f} MiB" if count >= 1024**2 else f"{count:,} bytes"


# --- PNG ------------------------------------------------------------------------------

class PngProblem(ValueError):
    """The chunk list of a PNG is broken; the message says how."""


def png_header(head: bytes) -> ImageHeader:
    """Size, channels and depth from the IHDR chunk, which the standard puts first."""
    if len(head) < 29 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise PngProblem("broken image header (a PNG must start with its IHDR chunk)")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise PngProblem(f"broken image header (PNG colour type {colour}, bit depth {depth})")
    return ImageHeader(height, width, _PNG_CHANNELS[colour], 2 if depth == 16 else 1)


def png_extent(handle: BinaryIO, size: int, budget: int) -> int:
    """The byte offset just past the IEND chunk, found by seeking from chunk header to header.

    Chunk data is never read, so bytes after IEND (a sparse tail of gigabytes) cost nothing;
    a chunk longer than the file, a walk past `budget` or an absurd chunk count is refused.
    """
    position, chunks = len(PNG_SIGNATURE), 0
    max_chunks = budget // 8192 + 10_000  # libpng writes 8 kB IDATs; 2x the decoded size covers them
    while position + 8 <= size:
        handle.seek(position)
        head = handle.read(8)
        length, kind = int.from_bytes(head[:4], "big"), head[4:8]
        if length > size - position - 12:
            raise PngProblem(f"truncated or corrupt PNG: chunk {kind!r} declares {length:,} bytes, "
                             f"the file has {max(size - position - 12, 0):,} left")
        position += 12 + length
        chunks += 1
        if kind == b"IEND" and position <= budget:
            return position
        if position > budget or chunks > max_chunks:
            raise PngProblem(f"PNG data runs past {min(position, budget):,} bytes in {chunks:,} chunks "
                             f"before reaching IEND: far more than its header's image needs")
    raise PngProblem("truncated PNG: no IEND chunk")


def png_chunk_problem(data: bytes) -> str | None:
    """Why an in-memory PNG's chunk list is broken, or None (see `png_extent`)."""
    try:
        png_extent(io.BytesIO(data), len(data), budget=max(len(data), 1) * 2 + _SLACK)
    except PngProblem as problem:
        return str(problem)
    return None


# --- JPEG and BMP, through Pillow -----------------------------------------------------

def pillow_header(head: bytes, kind: str) -> ImageHeader:
    """Header of a JPEG or BMP from its first bytes, without Image.open's global guard."""
    from PIL import BmpImagePlugin, Image, JpegImagePlugin

    plugin = {"jpeg": JpegImagePlugin.JpegImageFile, "bmp": BmpImagePlugin.BmpImageFile}[kind]
    with plugin(io.BytesIO(head)) as image:
        width, height = image.size
        mode = image.mode
        bits = int(getattr(image, "bits", 8) or 8) if kind == "jpeg" else 8  # 12-bit JPEG decodes to 16-bit
    # OpenCV expands palettes to BGR(A) and CMYK to BGR: 4 is the upper bound.
    channels = 4 if mode in ("P", "PA", "1", "LA", "CMYK") else min(max(Image.getmodebands(mode), 1), 4)
    return ImageHeader(int(height), int(width), channels, 2 if bits > 8 else 1)


# --- TIFF -------------------------------------------------------------------------------

def tiff_stored_bytes(pages) -> int:
    """Sum of the strip/tile byte counts the pages declare: what tifffile will read."""
    return sum(int(count) for page in pages if page is not None
               for count in getattr(page, "databytecounts", ()) or ())

