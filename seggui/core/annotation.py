"""The interchange model: what every importer produces and every exporter consumes.

An image's annotation is a label image (0 = background, k = instance k) plus a table
instance -> class. Shapes that are not regions (points, lines, skeletons, box-only
objects) are kept as vector annotations so that nothing a colleague drew is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# A distinct, colour-blind-friendly-ish palette for new classes (Okabe-Ito first, then tab10).
DEFAULT_CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178),
    (213, 94, 0), (204, 121, 167), (31, 119, 180), (255, 127, 14), (44, 160, 44),
    (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
)


def default_class_color(class_id: int) -> tuple[int, int, int]:
    return DEFAULT_CLASS_COLORS[(class_id - 1) % len(DEFAULT_CLASS_COLORS)]


@dataclass(frozen=True)
class LabelClass:
    """One semantic class. Ids start at 1; 0 is background and is never listed.

    A class named `__ignore__` (labelme's convention) or `ignore` marks ignore regions:
    pixels a person could not or would not label. Training masks the loss there and
    metrics leave them out; exports write the class back under its name.
    """

    id: int
    name: str
    color: tuple[int, int, int]

    @property
    def ignore(self) -> bool:
        return is_ignore_name(self.name)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "color": list(self.color)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LabelClass":
        color = tuple(int(c) for c in data["color"])
        if len(color) != 3:
            raise ValueError(f"class colour must have 3 components, got {data['color']!r}")
        return cls(int(data["id"]), str(data["name"]), color)  # type: ignore[arg-type]


IGNORE_NAMES = ("__ignore__", "ignore", "_ignore_")
IGNORE_COLOR = (128, 128, 128)


def is_ignore_name(name: str) -> bool:
    return str(name).strip().lower() in IGNORE_NAMES


def ignore_instance_ids(classes, instance_classes: dict) -> set[int]:
    """Instance ids whose class is an ignore class (classes: LabelClass or their JSON)."""
    ignored = {int(c.id if isinstance(c, LabelClass) else c["id"]) for c in classes
               if is_ignore_name(c.name if isinstance(c, LabelClass) else c.get("name", ""))}
    return {int(instance) for instance, class_id in instance_classes.items()
            if class_id is not None and int(class_id) in ignored}


@dataclass
class VectorShape:
    """A shape that is not a region: kept with the image, shown on the canvas, exported back.

    kind: "point", "points", "line", "linestrip", "polyline", "skeleton" or "box".
    points: float array (N, 2) of (x, y) pixel coordinates.
    """

    kind: str
    points: np.ndarray
    class_id: int | None = None
    label: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "points": np.asarray(self.points, dtype=float).tolist(),
            "class_id": self.class_id,
            "label": self.label,
            "attributes": self.attributes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "VectorShape":
        points = np.asarray(data.get("points", []), dtype=float).reshape(-1, 2)
        class_id = data.get("class_id")
        return cls(
            kind=str(data["kind"]),
            points=points,
            class_id=None if class_id is None else int(class_id),
            label=str(data.get("label", "")),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass
class ImageAnnotation:
    """Everything known about one image's annotation, whatever tool it came from."""

    image_name: str  # the image's file name as the source names it (relative, POSIX)
    height: int
    width: int
    labels: np.ndarray  # (H, W) uint16 or uint32 instance ids
    instance_classes: dict[int, int] = field(default_factory=dict)  # instance id -> class id
    # per instance: attributes, occluded, z_order, score, source, flags, group_id, ...
    instance_info: dict[int, dict[str, Any]] = field(default_factory=dict)
    vectors: list[VectorShape] = field(default_factory=list)
    flags: dict[str, Any] = field(default_factory=dict)  # image-level flags and tags
    image_path: Path | None = None  # the image file, when it was found
    image_data: np.ndarray | None = None  # pixels embedded in the annotation (LabelMe imageData)


@dataclass
class ImportReport:
    """What an import did: shown to the user, printed by `seggui convert`."""

    images: int = 0
    instances_per_class: dict[str, int] = field(default_factory=dict)
    vectors: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    warnings: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        self.skipped.append((where, why))

    def summary(self) -> str:
        instances = sum(self.instances_per_class.values())
        per_class = ", ".join(f"{name}: {n}" for name, n in sorted(self.instances_per_class.items()))
        text = f"{self.images} images, {instances} instances"
        if per_class:
            text += f" ({per_class})"
        text += f", {self.vectors} vector annotations, {len(self.skipped)} skipped"
        return text


@dataclass
class Dataset:
    """A set of annotated images sharing one class list."""

    classes: list[LabelClass] = field(default_factory=list)
    images: list[ImageAnnotation] = field(default_factory=list)
    report: ImportReport = field(default_factory=ImportReport)

    def class_by_name(self, name: str) -> LabelClass | None:
        for label_class in self.classes:
            if label_class.name == name:
                return label_class
        return None

    def ensure_class(self, name: str, color: tuple[int, int, int] | None = None) -> LabelClass:
        """Return the class called `name`, adding it with the next free id when new."""
        found = self.class_by_name(name)
        if found is not None:
            return found
        new_id = max((c.id for c in self.classes), default=0) + 1
        default = IGNORE_COLOR if is_ignore_name(name) else default_class_color(new_id)
        created = LabelClass(new_id, name, color or default)
        self.classes.append(created)
        return created


def label_dtype_for(max_id: int) -> np.dtype:
    """uint16 while ids fit, uint32 beyond: the smallest lossless PNG/TIFF-friendly type."""
    if max_id < 0:
        raise ValueError("instance ids are never negative")
    if max_id <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    if max_id <= np.iinfo(np.uint32).max:
        return np.dtype(np.uint32)
    raise ValueError(f"instance id {max_id} does not fit in uint32")
