"""Formats only Pillow decodes (WebP, JPEG 2000, GIF, PNM, TGA...): header, then pixels.

The header is parsed from the file's first bytes, so the decoded size is checked before
anything is decoded. Image.open is used with Pillow's own decompression-bomb guard left on
(seggui never changes Image.MAX_IMAGE_PIXELS). WebP is the exception for the header: Pillow
reads a whole WebP file to open it, so its size is taken from the RIFF chunk headers here.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import numpy as np

from seggui.core.image_limits import ImageHeader

# Modes decoded to another mode before becoming an array (palettes and 1-bit to grey or RGB(A)).
_CONVERT = {"1": "L", "P": "RGBA", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB",
            "RGBX": "RGB", "RGBa": "RGBA", "La": "LA", "I;16L": "I;16", "I;16N": "I;16"}
_NAMES = {3: ["red", "green", "blue"], 4: ["red", "green", "blue", "alpha"], 2: ["grey", "alpha"]}


def header(head: bytes, kind: str) -> ImageHeader:
    """Decoded size of a Pillow-only image from its first bytes (an upper bound on channels)."""
    if kind == "webp":
        return webp_header(head)
    from PIL import Image

    try:
        with Image.open(io.BytesIO(head), formats=[kind.upper()]) as image:
            width, height = image.size
            mode = image.mode
    except Image.DecompressionBombError as error:
        raise ValueError(f"refused by Pillow's decompression-bomb guard ({error})") from None
    except Exception as error:  # UnidentifiedImageError, SyntaxError, struct.error... on broken headers
        raise ValueError(f"broken {kind.upper()} header ({type(error).__name__})") from None
    return ImageHeader(int(height), int(width), _channels(mode), _sample_bytes(mode))


def _channels(mode: str) -> int:
    from PIL import Image

    if mode in ("P", "PA"):
        return 4
    return max(Image.getmodebands(_CONVERT.get(mode, mode)), 1)


def _sample_bytes(mode: str) -> int:
    if mode.startswith("I;16"):
        return 2
    return 4 if mode in ("I", "F") else 1


def webp_extent(head: bytes) -> int:
    """The file length the RIFF header declares: the bytes a WebP decoder reads."""
    return struct.unpack("<I", head[4:8])[0] + 8


def webp_header(head: bytes) -> ImageHeader:
    """Canvas size from the first chunk (WebP container specification: VP8X, VP8L or VP8)."""
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
    elif chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(head[26:28], "little") & 0x3FFF
        height = int.from_bytes(head[28:30], "little") & 0x3FFF
    else:
        raise ValueError(f"WebP chunk {chunk!r} is not VP8X, VP8L or VP8")
    return ImageHeader(height, width, 4, 1)  # decoded as RGB or RGBA, 8-bit


def decode(raw: bytes, kind: str) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """The first frame as (H, W) or (H, W, C); 16-bit stays 16-bit. Pillow raises on bad data."""
    from PIL import Image

    with Image.open(io.BytesIO(raw), formats=[kind.upper()]) as image:
        metadata: dict[str, Any] = {}
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            metadata["frames_ignored"] = frames - 1  # GIF/WebP animations: the first frame is read
        image.load()
        mode = image.mode
        if mode == "P":  # a palette without transparency needs no alpha channel
            target = "RGBA" if "transparency" in image.info or image.palette.mode == "RGBA" else "RGB"
        else:
            target = _CONVERT.get(mode, mode)
        converted = image.convert(target) if target != mode else image
        array = np.array(converted)
    if kind == "ppm" and array.dtype == np.int32:  # Pillow opens 16-bit PGM as 32-bit; PNM stops at 65535
        array = array.astype(np.uint16)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    elif not array.dtype.isnative:  # I;16B (big-endian 16-bit PNM, SGI): native order for numpy and OpenCV
        array = array.astype(array.dtype.newbyteorder("="))
    names = _NAMES.get(array.shape[2], []) if array.ndim == 3 else []
    return array, names, metadata


def kind_without_magic(head: bytes) -> str | None:
    """TGA has no signature: Pillow recognises it by trying its header parser, as here."""
    from seggui.core.image_formats import pillow_formats

    if "TGA" not in pillow_formats():
        return None
    try:
        header(head, "tga")
    except Exception:  # not a TGA header either
        return None
    return "tga"
