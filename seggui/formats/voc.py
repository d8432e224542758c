"""Pascal VOC segmentation folders as CVAT and datumaro write them, and labelme's VOC export.

`labelmap.txt` lists one class a line, `name:r,g,b:parts:actions`, in class-index order
with background first; labelme writes `class_names.txt` (names only, same order).
SegmentationClass PNGs hold class indices (palette PNGs) or the label map's colours (RGB,
as datumaro paints them); SegmentationObject PNGs hold instance indices or each index's
colour in the standard VOC palette. Index 255 (colour 224,224,192) marks void borders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seggui.core.annotation import Dataset, LabelClass, default_class_color
from seggui.core.errors import FormatError

CLASS_FOLDER, OBJECT_FOLDER, IMAGES_FOLDER = "SegmentationClass", "SegmentationObject", "JPEGImages"
LABEL_MAP_FILES = ("labelmap.txt", "class_names.txt")
VOID = 255


@dataclass
class VocLayout:
    objects: Path | None  # SegmentationObject, when instances are to be read from it
    classes: Path | None  # SegmentationClass
    label_map: list[tuple[str, tuple[int, int, int] | None]]
    images: Path | None


def voc_layout(folder: Path) -> VocLayout | None:
    """The VOC folders to read for a VOC root or one of its Segmentation* folders."""
    root = folder.parent if folder.name in (CLASS_FOLDER, OBJECT_FOLDER) else folder
    classes = root / CLASS_FOLDER if (root / CLASS_FOLDER).is_dir() else None
    objects = root / OBJECT_FOLDER if (root / OBJECT_FOLDER).is_dir() else None
    label_map_file = next((root / name for name in LABEL_MAP_FILES if (root / name).is_file()), None)
    if folder.name == CLASS_FOLDER:
        objects = None  # the user chose the class images: each connected region is an instance
    elif folder.name != OBJECT_FOLDER and label_map_file is None:
        return None  # a folder that merely holds a SegmentationClass folder is not claimed
    if objects is None and classes is None:
        return None
    if folder.name == CLASS_FOLDER and label_map_file is None:
        return None  # plain semantic class images: read as before, classes named by index
    label_map = read_label_map(label_map_file) if label_map_file else []
    images = root / IMAGES_FOLDER if (root / IMAGES_FOLDER).is_dir() else None
    return VocLayout(objects, classes, label_map, images)


def read_label_map(path: Path) -> list[tuple[str, tuple[int, int, int] | None]]:
    from seggui.formats.safety import read_annotation_bytes

    entries = []
    text = read_annotation_bytes(path, "label map").decode("utf-8", "replace")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        # name:r,g,b:parts:actions; a name may itself hold ':' (the last three fields never do)
        name = ":".join(parts[:-3]) if len(parts) >= 4 else parts[0]
        color_text = parts[-3] if len(parts) >= 4 else (parts[1] if len(parts) > 1 else "")
        color = None
        if color_text.strip():
            try:
                rgb = tuple(int(c) for c in color_text.split(","))
            except ValueError:
                raise FormatError(f"line {number}: colour {color_text!r} is not r,g,b", path) from None
            if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
                raise FormatError(f"line {number}: colour {color_text!r} is not r,g,b in 0..255", path)
            color = rgb
        entries.append((name.strip(), color))
    return entries


def add_classes(dataset: Dataset, label_map: list[tuple[str, tuple[int, int, int] | None]]) -> None:
    """Classes 1..N from the label map (index 0 is the background)."""
    for index, (name, color) in enumerate(label_map[1:], start=1):
        if index != VOID and all(c.id != index for c in dataset.classes) and dataset.class_by_name(name) is None:
            dataset.classes.append(LabelClass(index, name, color or default_class_color(index)))  # type: ignore[arg-type]


def voc_palette(count: int = 256) -> np.ndarray:
    """The standard VOC colour of each index: bits of the index spread over R, G, B."""
    index = np.arange(count)
    palette = np.zeros((count, 3), np.int64)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= ((index >> (3 * bit + channel)) & 1) << (7 - bit)
    return palette


def class_indices(image: np.ndarray, label_map, path: Path) -> np.ndarray:
    if image.ndim == 2:
        return image
    colors = {color: index for index, (_, color) in enumerate(label_map) if color is not None}
    colors.setdefault((224, 224, 192), VOID)
    return _indices(image, colors, path, "the label map")


def object_indices(image: np.ndarray, path: Path) -> np.ndarray:
    """Instance ids; VOC's void border (255) is background here."""
    if image.ndim == 3:
        image = _indices(image, {tuple(map(int, c)): i for i, c in enumerate(voc_palette())}, path, "the VOC palette")
    return np.where(image == VOID, 0, image)


def _indices(image: np.ndarray, colors: dict, path: Path, source: str) -> np.ndarray:
    rgb = image[..., :3].astype(np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    keys = np.array([(r << 16) | (g << 8) | b for r, g, b in colors], dtype=np.int64)
    values = np.array(list(colors.values()), dtype=np.int64)
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    position = np.clip(np.searchsorted(keys, packed), 0, len(keys) - 1)
    unknown = keys[position] != packed
    if unknown.any():
        raise FormatError(f"{int(unknown.sum()):,} pixels have colours that are not in {source}", path)
    return values[position].astype(np.uint16 if values.max(initial=0) > 255 else np.uint8)
