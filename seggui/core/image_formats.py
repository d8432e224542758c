"""Which files are images: the one list of suffixes and the one content test every reader uses.

Suffixes only decide which files a folder scan offers (an annotation's label masks, `seggui
predict FOLDER`, the Add images dialog); what a file *is* is decided by its first bytes.
PNG, JPEG, BMP and TIFF are decoded by OpenCV/tifffile; the other formats Pillow reads are
decoded by Pillow (seggui.core.pillow_images); microscope files by the optional readers of
`seggui[microscopy]` (seggui.core.microscopy).
"""

from __future__ import annotations

import functools
from pathlib import Path

from seggui.core.microscopy import MICROSCOPY_SUFFIXES, microscopy_kind_from_magic, readable_microscopy_suffixes

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)
# Read by OpenCV or tifffile, whatever Pillow also registers for them (APNG, MPO: first image).
_CORE_SUFFIXES = (".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".bmp", ".tif", ".tiff")

# Formats decoded by Pillow. Left out: stubs with no decoder (BUFR, GRIB, HDF5, WMF, MPEG),
# EPS (runs Ghostscript), AVIF and PSD (their headers are read from the whole file or its
# layer table, so no header-only size check is possible), and rare formats with no magic.
PILLOW_FORMATS = ("GIF", "WEBP", "JPEG2000", "PPM", "TGA", "PCX", "SGI", "ICO", "DDS", "QOI", "SUN", "XBM",
                  "XPM")
_NEEDS = {"WEBP": ("module", "webp"), "JPEG2000": ("codec", "jpg_2000")}


@functools.cache
def pillow_formats() -> tuple[str, ...]:
    """The formats of PILLOW_FORMATS this Pillow build can decode (WebP and JPEG 2000 are optional)."""
    from PIL import Image, features

    Image.init()
    available = []
    for name in PILLOW_FORMATS:
        kind, feature = _NEEDS.get(name, (None, None))
        if name not in Image.OPEN:
            continue
        if kind == "module" and not features.check_module(feature):
            continue
        if kind == "codec" and not features.check_codec(feature):
            continue
        available.append(name)
    return tuple(available)


@functools.cache
def pillow_suffixes() -> tuple[str, ...]:
    from PIL import Image

    formats = set(pillow_formats())
    return tuple(sorted(s for s, name in Image.registered_extensions().items() if name in formats))


@functools.cache
def image_suffixes() -> tuple[str, ...]:
    """Every suffix a folder scan treats as an image, microscope files included even without
    their readers: opening one then says which extra to install rather than skipping it."""
    return tuple(dict.fromkeys(_CORE_SUFFIXES + pillow_suffixes() + tuple(MICROSCOPY_SUFFIXES)))


def readable_suffixes() -> tuple[str, ...]:
    """The suffixes that can be read here now (what the Add images dialog offers)."""
    return tuple(dict.fromkeys(_CORE_SUFFIXES + pillow_suffixes() + readable_microscopy_suffixes()))


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in image_suffixes()


def image_files(folder: str | Path) -> list[Path]:
    """The images directly in a folder, sorted: files with an image suffix, and .zarr folders.

    Not only regular files: a FIFO or device named .png is then refused by name when it is
    read (the readers open files with open_regular) instead of vanishing unnoticed.
    """
    found = []
    for path in Path(folder).iterdir():
        if is_image_file(path) and path.is_dir() == (path.suffix.lower() == ".zarr"):
            found.append(path)
    return sorted(found)


def kind_from_magic(head: bytes) -> str | None:
    """'png', 'jpeg', 'bmp', 'tiff', a microscope kind or a lower-case Pillow format name."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    kind = microscopy_kind_from_magic(head)
    if kind:
        return kind
    from PIL import Image

    for name in pillow_formats():
        accept = Image.OPEN[name][1]
        if accept is not None and accept(head[:16]):  # Image.open tests the first 16 bytes the same way
            return name.lower()
    return None
