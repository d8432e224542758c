"""Whole-instance and region edits as sparse commands whose cost follows the instance.

Delete and merge read only the instance's bounding box, taken from a per-layer box index
that is built once and then grown by the rectangles the layer announces, so a click never
scans the whole image again. Used by the tools in `seggui.core.tools`; Qt-free.
"""

from __future__ import annotations

import weakref

import numpy as np
from scipy import ndimage

from seggui.core.layers import LabelLayer, Rect
from seggui.core.paint import change_command
from seggui.core.undo import CallbackCommand, Command


class CompositeCommand(Command):
    """Several commands undone and redone as one step (pixels plus the class table)."""

    def __init__(self, description: str, commands: list[Command]):
        self.description = description
        self.commands = commands

    def redo(self) -> None:
        for command in self.commands:
            command.redo()

    def undo(self) -> None:
        for command in reversed(self.commands):
            command.undo()

    @property
    def nbytes(self) -> int:
        return sum(command.nbytes for command in self.commands)


def _union(a: Rect | None, b: Rect) -> Rect:
    if a is None:
        return b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


class InstanceBoxes:
    """Conservative bounding boxes per instance id, kept current from announced rects.

    Built once per layer (one pass over the image) and then only grown by the rectangles
    edits announce, so later lookups cost nothing and whole-instance edits read only the
    box. Boxes never shrink (erasing leaves them larger than needed), which is harmless.
    """

    def __init__(self, layer: LabelLayer):
        self._layer = weakref.ref(layer)
        self._boxes: dict[int, Rect] | None = None
        self._pending: list[Rect] = []
        layer.data_changed.connect(self._on_data_changed)

    def _on_data_changed(self, rect: Rect) -> None:
        if self._boxes is not None:
            self._pending.append(tuple(int(v) for v in rect))  # type: ignore[arg-type]

    def _rebuild(self, data: np.ndarray) -> None:
        self._boxes = {}
        for index, found in enumerate(ndimage.find_objects(data)):
            if found is not None:
                self._boxes[index + 1] = (found[0].start, found[1].start, found[0].stop, found[1].stop)
        self._pending = []

    def _apply_pending(self, data: np.ndarray) -> None:
        assert self._boxes is not None
        height, width = data.shape
        area = sum((r[2] - r[0]) * (r[3] - r[1]) for r in self._pending)
        if area > height * width // 4:
            self._rebuild(data)
            return
        for rect in self._pending:
            y0, x0, y1, x1 = rect
            if y1 <= y0 or x1 <= x0:
                continue
            for instance_id in np.unique(data[y0:y1, x0:x1]):
                if instance_id:
                    self._boxes[int(instance_id)] = _union(self._boxes.get(int(instance_id)), rect)
        self._pending = []

    def box(self, instance_id: int) -> Rect | None:
        layer = self._layer()
        if layer is None or instance_id == 0:
            return None
        if self._boxes is None:
            self._rebuild(layer.data)
        elif self._pending:
            self._apply_pending(layer.data)
        return self._boxes.get(int(instance_id)) if self._boxes is not None else None


_box_indices: "weakref.WeakKeyDictionary[LabelLayer, InstanceBoxes]" = weakref.WeakKeyDictionary()


def instance_boxes(layer: LabelLayer) -> InstanceBoxes:
    index = _box_indices.get(layer)
    if index is None:
        index = _box_indices[layer] = InstanceBoxes(layer)
    return index


def class_table_command(layer: LabelLayer, instance_id: int, class_id: int | None,
                         description: str) -> CallbackCommand:
    old = layer.instance_classes.get(instance_id)
    return CallbackCommand(description, lambda: layer.set_instance_class(instance_id, class_id),
                           lambda: layer.set_instance_class(instance_id, old))


def delete_instance_command(layer: LabelLayer, instance_id: int) -> Command | None:
    """Clear every pixel of instance_id and its class entry (not applied yet)."""
    box = instance_boxes(layer).box(instance_id)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    region = layer.data[y0:y1, x0:x1]
    pixels = change_command(layer, box, np.where(region == instance_id, 0, region).astype(region.dtype),
                            f"delete instance {instance_id}")
    if pixels.is_empty:
        return None
    commands: list[Command] = [pixels]
    if instance_id in layer.instance_classes:
        commands.append(class_table_command(layer, instance_id, None, "forget class"))
    return CompositeCommand(pixels.description, commands)


def merge_instances_command(layer: LabelLayer, keep_id: int, merged_id: int) -> Command | None:
    """Relabel merged_id as keep_id; cost follows merged_id's box (not applied yet)."""
    if keep_id == merged_id or 0 in (keep_id, merged_id):
        return None
    box = instance_boxes(layer).box(merged_id)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    region = layer.data[y0:y1, x0:x1]
    pixels = change_command(layer, box, np.where(region == merged_id, keep_id, region).astype(region.dtype),
                            f"merge instance {merged_id} into {keep_id}")
    if pixels.is_empty:
        return None
    commands: list[Command] = [pixels]
    if merged_id in layer.instance_classes:
        commands.append(class_table_command(layer, merged_id, None, "forget class"))
    return CompositeCommand(pixels.description, commands)


def region_fill_command(layer: LabelLayer, rect: Rect, mask: np.ndarray, value: int,
                        only_background: bool = False, only_id: int | None = None,
                        description: str = "polygon fill") -> Command | None:
    """Write value where mask (over rect) is set, optionally sparing or targeting labels."""
    y0, x0, y1, x1 = rect
    region = layer.data[y0:y1, x0:x1]
    allowed = mask.copy()
    if only_background and value != 0:
        allowed &= region == 0
    if only_id is not None:
        allowed &= region == only_id
    layer.ensure_capacity(value)
    region = layer.data[y0:y1, x0:x1]
    new_region = region.copy()
    new_region[allowed] = value
    command = change_command(layer, rect, new_region, description)
    return None if command.is_empty else command
