"""Editing tools: mouse gestures on image coordinates turned into undoable label edits.

Qt-free so that every tool can be tested without a display. The canvas converts Qt events
to image coordinates and calls `ToolController.press/move/release`; each user action
(one stroke, one fill, one polygon, one delete...) becomes exactly one command on the
document's undo stack. Handlers return the rectangle they changed (or None); the layer's
`data_changed` signal announces the same rectangle to every view.

Costs follow the edited area, never the image size: strokes are capsules around the mouse
segment, fills use a growing window, and whole-instance edits (delete, merge) read only
the instance's bounding box, taken from a per-layer box index that is updated by the
rectangles the layer announces.
"""

from __future__ import annotations

import weakref
from enum import IntFlag
from typing import Any

import numpy as np
from psygnal import Signal
from scipy import ndimage

from seggui.core.document import Document
from seggui.core.layers import LabelLayer, Rect
from seggui.core.paint import StrokeRecorder, change_command, fill_command, polygon_mask
from seggui.core.undo import CallbackCommand, Command

TOOLS = ("brush", "eraser", "fill", "polygon", "pick", "delete", "merge", "erase_region", "set_class")


class Modifiers(IntFlag):
    NONE = 0
    SHIFT = 1
    CONTROL = 2
    ALT = 4


class ToolState:
    """What the user chose: the tool and its settings. Emits changed(name, value)."""

    changed = Signal(str, object)

    _defaults: dict[str, Any] = {
        "tool": "brush",
        "brush_radius": 10.0,
        "label_id": 1,  # the instance the brush, fill and polygon write
        "class_id": 1,  # class given to new instances and by the set_class tool
        "only_background": False,  # "preserve other cells": paint only where labels are 0
        "erase_only_current": False,  # eraser / erase_region clear only label_id
        "region_shape": "rectangle",  # erase_region: "rectangle" or "lasso"
    }
    MIN_RADIUS = 0.5
    MAX_RADIUS = 500.0

    def __init__(self, **values: Any):
        for name, value in self._defaults.items():
            object.__setattr__(self, name, value)
        for name, value in values.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._defaults:
            raise AttributeError(f"ToolState has no setting {name!r}")
        if name == "tool" and value not in TOOLS:
            raise ValueError(f"unknown tool {value!r}; expected one of {', '.join(TOOLS)}")
        if name == "brush_radius":
            value = float(min(max(value, self.MIN_RADIUS), self.MAX_RADIUS))
        if name in ("label_id", "class_id"):
            value = int(value)
        if getattr(self, name) != value:
            object.__setattr__(self, name, value)
            self.changed.emit(name, value)

    def grow_brush(self, factor: float = 1.2) -> None:
        # Multiplicative steps feel even from 1 px to hundreds; +1 keeps small brushes moving.
        self.brush_radius = max(self.brush_radius * factor, self.brush_radius + 1)

    def shrink_brush(self, factor: float = 1.2) -> None:
        self.brush_radius = min(self.brush_radius / factor, self.brush_radius - 1)


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


def _class_table_command(layer: LabelLayer, instance_id: int, class_id: int | None,
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
        commands.append(_class_table_command(layer, instance_id, None, "forget class"))
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
        commands.append(_class_table_command(layer, merged_id, None, "forget class"))
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


class Tool:
    """One tool's gesture handling. Subclasses edit `controller.layer` and push commands."""

    name = ""
    edits = True  # refused on locked layers

    def __init__(self, controller: "ToolController"):
        self.controller = controller

    @property
    def state(self) -> ToolState:
        return self.controller.state

    @property
    def layer(self) -> LabelLayer:
        assert self.controller.layer is not None
        return self.controller.layer

    def press(self, x: float, y: float, modifiers: Modifiers) -> Rect | None:
        return None

    def move(self, x: float, y: float) -> Rect | None:
        return None

    def release(self, x: float, y: float) -> Rect | None:
        return None

    def cancel(self) -> None:
        pass

    def finish(self) -> Rect | None:
        return None

    def pixel(self, x: float, y: float) -> tuple[int, int] | None:
        ix, iy = int(np.floor(x)), int(np.floor(y))
        height, width = self.layer.shape
        return (ix, iy) if 0 <= ix < width and 0 <= iy < height else None

    def id_at(self, x: float, y: float) -> int:
        where = self.pixel(x, y)
        return 0 if where is None else int(self.layer.data[where[1], where[0]])


class BrushTool(Tool):
    name = "brush"

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.recorder: StrokeRecorder | None = None
        self._new_instance = False

    def _value(self) -> int:
        return self.state.label_id

    def press(self, x, y, modifiers):
        if modifiers & Modifiers.SHIFT and self.name == "brush":
            self.state.label_id = self.layer.next_free_id()  # Shift+stroke: start a new cell
        value = self._value()
        self._new_instance = value != 0 and value > self.layer.max_id
        erase_only = self.state.label_id if (value == 0 and self.state.erase_only_current) else None
        self.recorder = StrokeRecorder(self.layer, value, self.state.brush_radius,
                                       only_background=self.state.only_background, erase_only=erase_only)
        return self.recorder.add_point(x, y)

    def move(self, x, y):
        return None if self.recorder is None else self.recorder.add_point(x, y)

    def release(self, x, y):
        if self.recorder is None:
            return None
        rect = self.recorder.add_point(x, y)
        self._finish()
        return rect

    def cancel(self) -> None:
        self._finish()  # what was painted stays painted and undoable

    def _finish(self) -> None:
        recorder, self.recorder = self.recorder, None
        command = recorder.finish() if recorder is not None else None
        if command is None:
            return
        value = recorder.value  # type: ignore[union-attr]
        if self._new_instance and self.state.class_id != self.layer.class_of(value):
            class_command = _class_table_command(self.layer, value, self.state.class_id, "set class")
            class_command.redo()
            command = CompositeCommand(command.description, [command, class_command])
        self.controller.push(command, execute=False)


class EraserTool(BrushTool):
    name = "eraser"

    def _value(self) -> int:
        return 0


class FillTool(Tool):
    name = "fill"

    def press(self, x, y, modifiers):
        where = self.pixel(x, y)
        if where is None:
            return None
        value = self.state.label_id
        if self.state.only_background and value != 0 and self.layer.data[where[1], where[0]] != 0:
            return None
        self.layer.ensure_capacity(value)
        command = fill_command(self.layer, where[0], where[1], value)
        return None if command is None else self.controller.push(command)


class PolygonTool(Tool):
    """Click vertices then close (click the first vertex, double-click, Enter), or drag a lasso."""

    name = "polygon"
    LASSO_STEP = 1.5  # image pixels between recorded lasso points

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.points: list[tuple[float, float]] = []
        self._pressed = False
        self._dragged = False

    def press(self, x, y, modifiers):
        if len(self.points) >= 3 and self._near_first(x, y):
            return self.finish()
        self.points.append((x, y))
        self._pressed, self._dragged = True, False
        self.controller.preview_changed.emit()
        return None

    def _near_first(self, x: float, y: float) -> bool:
        fx, fy = self.points[0]
        return (fx - x) ** 2 + (fy - y) ** 2 <= self.controller.pick_tolerance ** 2

    def move(self, x, y):
        if not self._pressed:
            return None
        lx, ly = self.points[-1]
        if (lx - x) ** 2 + (ly - y) ** 2 >= self.LASSO_STEP ** 2:
            self.points.append((x, y))
            self._dragged = True
            self.controller.preview_changed.emit()
        return None

    def release(self, x, y):
        self._pressed = False
        if self._dragged and len(self.points) >= 3:
            return self.finish()
        return None

    def cancel(self) -> None:
        self.points, self._pressed, self._dragged = [], False, False
        self.controller.preview_changed.emit()

    def remove_last_point(self) -> None:
        if self.points:
            self.points.pop()
            self.controller.preview_changed.emit()

    def finish(self) -> Rect | None:
        points, self.points = self.points, []
        self._pressed = self._dragged = False
        self.controller.preview_changed.emit()
        hit = polygon_mask(np.asarray(points), self.layer.shape) if len(points) >= 3 else None
        if hit is None:
            return None
        rect, mask = hit
        command = region_fill_command(self.layer, rect, mask, self.state.label_id,
                                      only_background=self.state.only_background)
        return None if command is None else self.controller.push(command)


class PickTool(Tool):
    name = "pick"
    edits = False

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        if instance_id:
            self.state.label_id = instance_id
            class_id = self.layer.class_of(instance_id)
            if class_id is not None:
                self.state.class_id = class_id
        return None


class DeleteTool(Tool):
    name = "delete"

    def press(self, x, y, modifiers):
        command = delete_instance_command(self.layer, self.id_at(x, y))
        return None if command is None else self.controller.push(command)


class MergeTool(Tool):
    """First click chooses the instance to keep; the second click merges another into it."""

    name = "merge"

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.selected_id = 0

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        if not self.selected_id:
            self.selected_id = instance_id
            self.controller.preview_changed.emit()
            return None
        keep_id, self.selected_id = self.selected_id, 0
        self.controller.preview_changed.emit()
        command = merge_instances_command(self.layer, keep_id, instance_id)
        return None if command is None else self.controller.push(command)

    def cancel(self) -> None:
        self.selected_id = 0
        self.controller.preview_changed.emit()


class EraseRegionTool(Tool):
    """Drag a rectangle (or a lasso, or hold Alt) and clear every label inside it."""

    name = "erase_region"

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.points: list[tuple[float, float]] = []
        self.lasso = False

    def press(self, x, y, modifiers):
        self.lasso = self.state.region_shape == "lasso" or bool(modifiers & Modifiers.ALT)
        self.points = [(x, y), (x, y)]
        self.controller.preview_changed.emit()
        return None

    def move(self, x, y):
        if not self.points:
            return None
        if self.lasso:
            self.points.append((x, y))
        else:
            self.points[-1] = (x, y)
        self.controller.preview_changed.emit()
        return None

    def release(self, x, y):
        if not self.points:
            return None
        self.move(x, y)
        points, self.points = self.points, []
        self.controller.preview_changed.emit()
        if self.lasso:
            hit = polygon_mask(np.asarray(points), self.layer.shape)
        else:
            (xa, ya), (xb, yb) = points[0], points[-1]
            height, width = self.layer.shape
            y0, y1 = max(int(np.floor(min(ya, yb))), 0), min(int(np.ceil(max(ya, yb))), height)
            x0, x1 = max(int(np.floor(min(xa, xb))), 0), min(int(np.ceil(max(xa, xb))), width)
            hit = ((y0, x0, y1, x1), np.ones((y1 - y0, x1 - x0), bool)) if y1 > y0 and x1 > x0 else None
        if hit is None:
            return None
        only_id = self.state.label_id if self.state.erase_only_current else None
        command = region_fill_command(self.layer, hit[0], hit[1], 0, only_id=only_id,
                                      description="erase region")
        return None if command is None else self.controller.push(command)

    def cancel(self) -> None:
        self.points = []
        self.controller.preview_changed.emit()


class SetClassTool(Tool):
    name = "set_class"

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        class_id = self.state.class_id
        if not instance_id or self.layer.class_of(instance_id) == class_id:
            return None
        command = _class_table_command(self.layer, instance_id, class_id, f"set class of {instance_id}")
        self.controller.push(command)
        return instance_boxes(self.layer).box(instance_id)


TOOL_CLASSES: dict[str, type[Tool]] = {
    cls.name: cls for cls in (BrushTool, EraserTool, FillTool, PolygonTool, PickTool, DeleteTool,
                              MergeTool, EraseRegionTool, SetClassTool)
}


class ToolController:
    """Routes gestures to the active tool on the active label layer; one command per action."""

    message = Signal(str)  # something the user should read ("layer is locked")
    preview_changed = Signal()  # polygon / rectangle / merge selection preview moved

    def __init__(self, document: Document, state: ToolState):
        self.document = document
        self.state = state
        self.layer: LabelLayer | None = None
        self.pick_tolerance = 5.0  # image pixels; the canvas sets it from the zoom
        self.tools: dict[str, Tool] = {name: cls(self) for name, cls in TOOL_CLASSES.items()}
        self._active: Tool | None = None  # the tool between press and release
        state.changed.connect(self._on_state_changed)

    @property
    def tool(self) -> Tool:
        return self.tools[self.state.tool]

    @property
    def busy(self) -> bool:
        """True during a gesture (mouse held, or a polygon or merge under way)."""
        tool = self.tool
        return (self._active is not None or bool(getattr(tool, "points", None))
                or bool(getattr(tool, "selected_id", 0)))

    def set_layer(self, layer: LabelLayer | None) -> None:
        if layer is not self.layer:
            self.cancel()
            self.layer = layer

    def _on_state_changed(self, name: str, value: Any) -> None:
        if name == "tool":
            for tool in self.tools.values():
                tool.cancel()
            self._active = None

    def _usable(self, tool: Tool) -> bool:
        if self.layer is None:
            self.message.emit("no label layer to edit: add or select one")
            return False
        if tool.edits and self.layer.locked:
            self.message.emit(f"layer {self.layer.name} is locked")
            return False
        return True

    def press(self, x: float, y: float, modifiers: Modifiers = Modifiers.NONE) -> Rect | None:
        tool = self.tool
        if not self._usable(tool):
            return None
        self._active = tool
        return tool.press(x, y, Modifiers(modifiers))

    def move(self, x: float, y: float) -> Rect | None:
        tool = self._active
        if tool is None or self.layer is None:
            return None
        return tool.move(x, y)

    def release(self, x: float, y: float) -> Rect | None:
        tool, self._active = self._active, None
        if tool is None or self.layer is None:
            return None
        return tool.release(x, y)

    def finish_shape(self) -> Rect | None:
        """Close an open polygon (double-click, Enter)."""
        if self.layer is None or (self.tool.edits and self.layer.locked):
            return None
        return self.tool.finish()

    def cancel(self) -> None:
        for tool in self.tools.values():
            tool.cancel()
        self._active = None

    def new_instance(self) -> int:
        """Make the next free id current, so the brush starts a new cell."""
        if self.layer is not None:
            self.state.label_id = self.layer.next_free_id()
        return self.state.label_id

    def push(self, command: Command, execute: bool = True) -> Rect | None:
        self.document.undo_stack.push(command, execute=execute)
        inner = command.commands[0] if isinstance(command, CompositeCommand) else command
        return getattr(inner, "rect", None)
