"""Building one image's label image from shapes drawn in order, as every importer does.

Shapes are painted in drawing order (later shapes cover earlier ones, as in the tools
that drew them). An instance left with no visible pixel, because it was empty, outside
the image or hidden under later shapes, is reported as skipped with the reason; ids are
then renumbered 1..N in drawing order so that the same file always gives the same ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, ImportReport, label_dtype_for
from seggui.core.errors import FormatError, ImageReadError
from seggui.core.image_limits import ImageHeader, check_limits
from seggui.formats.rasterize import Crop

LABEL_BYTES = 4  # labels are painted as uint32, whatever dtype they are stored in


def check_label_size(height: int, width: int, where: str, path: str | Path | None) -> None:
    """A size an annotation file declares passes the image limits before any array is made.

    Annotation files declare sizes that no image backs (a LabelMe imageHeight of 200000 with
    no image asks for 149 GiB): the same pixel and decoded-byte limits as images apply.
    """
    try:
        check_limits(ImageHeader(int(height), int(width), 1, LABEL_BYTES), path)
    except ImageReadError as error:
        raise FormatError(f"{where}: declared size refused, {error.message}", path) from None


class LabelCanvas:
    def __init__(self, height: int, width: int, where: str, report: ImportReport,
                 path: str | Path | None = None):
        check_label_size(height, width, where, path)
        self.height = int(height)
        self.width = int(width)
        self.where = where
        self.report = report
        self.labels = np.zeros((self.height, self.width), dtype=np.uint32)
        self._classes: dict[int, int] = {}
        self._info: dict[int, dict[str, Any]] = {}
        self._names: dict[int, str] = {}
        self._painted: dict[int, bool] = {}

    def new_instance(self, class_id: int, description: str, info: dict[str, Any] | None = None) -> int:
        instance = len(self._classes) + 1
        self._classes[instance] = int(class_id)
        self._info[instance] = dict(info or {})
        self._names[instance] = description
        self._painted[instance] = False
        return instance

    def paint(self, instance: int, crop: Crop | None) -> None:
        """Paint a crop (clipped to the image) with this instance's id."""
        if crop is None:
            return
        mask = crop.mask
        top, left = crop.top, crop.left
        bottom, right = top + mask.shape[0], left + mask.shape[1]
        clip_top, clip_left = max(top, 0), max(left, 0)
        clip_bottom, clip_right = min(bottom, self.height), min(right, self.width)
        if clip_bottom <= clip_top or clip_right <= clip_left:
            return
        part = mask[clip_top - top:clip_bottom - top, clip_left - left:clip_right - left]
        if part.any():
            self.labels[clip_top:clip_bottom, clip_left:clip_right][part] = instance
            self._painted[instance] = True

    def paint_full(self, instance: int, mask: np.ndarray) -> None:
        self.paint(instance, Crop(mask, 0, 0))

    def finish(
        self,
        image_name: str,
        class_names: dict[int, str],
        **fields: Any,
    ) -> ImageAnnotation:
        present = np.zeros(len(self._classes) + 1, dtype=bool)
        if self._classes:
            present[np.unique(self.labels)] = True
        remap = np.zeros(len(self._classes) + 1, dtype=np.uint32)
        instance_classes: dict[int, int] = {}
        instance_info: dict[int, dict[str, Any]] = {}
        next_id = 1
        for instance in range(1, len(self._classes) + 1):
            if not present[instance]:
                why = (
                    "hidden under shapes drawn after it"
                    if self._painted[instance]
                    else "no pixel inside the image (empty, degenerate or outside)"
                )
                self.report.skip(f"{self.where}: {self._names[instance]}", why)
                continue
            remap[instance] = next_id
            instance_classes[next_id] = self._classes[instance]
            instance_info[next_id] = self._info[instance]
            name = class_names.get(self._classes[instance], str(self._classes[instance]))
            self.report.instances_per_class[name] = self.report.instances_per_class.get(name, 0) + 1
            next_id += 1
        labels = remap[self.labels] if next_id - 1 != len(self._classes) else self.labels
        labels = labels.astype(label_dtype_for(next_id - 1), copy=False)
        self.report.images += 1
        return ImageAnnotation(
            image_name=image_name,
            height=self.height,
            width=self.width,
            labels=labels,
            instance_classes=instance_classes,
            instance_info=instance_info,
            **fields,
        )


def class_names_of(dataset: Dataset) -> dict[int, str]:
    return {label_class.id: label_class.name for label_class in dataset.classes}


def count_vectors(report: ImportReport, image: ImageAnnotation) -> None:
    report.vectors += len(image.vectors)


def finite_points(value: Any, minimum: int = 1) -> np.ndarray | None:
    """(N, 2) float array from [[x, y], ...] or [x, y, x, y, ...]; None when malformed."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    if array.ndim == 1 and array.size % 2 == 0:
        array = array.reshape(-1, 2)
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] < minimum:
        return None
    if not np.isfinite(array).all() or (np.abs(array) > 1e7).any():
        return None
    return array


def output_stems(images: list[ImageAnnotation]) -> list[str]:
    """One file stem per image, unique even when images in different folders share a name."""
    from pathlib import PurePosixPath

    stems = [PurePosixPath(image.image_name.replace("\\", "/")).stem or "image" for image in images]
    if len(set(stems)) == len(stems):
        return stems
    unique: list[str] = []
    seen: set[str] = set()
    for image, stem in zip(images, stems):
        path = PurePosixPath(image.image_name.replace("\\", "/"))
        candidate = "__".join(part for part in path.with_suffix("").parts if part not in ("/", "..", "."))
        candidate = candidate or stem
        base, number = candidate, 2
        while candidate in seen:
            candidate = f"{base}_{number}"
            number += 1
        seen.add(candidate)
        unique.append(candidate)
    return unique


def instance_masks(image: ImageAnnotation):
    """Yield (instance id, rows slice, cols slice, boolean crop) in ascending id order."""
    from seggui.formats.rasterize import instance_boxes

    for instance, (rows, cols) in sorted(instance_boxes(image.labels).items()):
        yield instance, rows, cols, image.labels[rows, cols] == instance
