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

from enum import IntFlag
from typing import Any, Callable

import numpy as np
from psygnal import Signal

from seggui.core.assisted import box_cell_mask, add_cell_mask, split_instance_command
from seggui.core.document import Document
from seggui.core.instance_edits import (  # noqa: F401 - re-exported for callers of the tools
    CompositeCommand,
    InstanceBoxes,
    class_table_command,
    delete_instance_command,
    instance_boxes,
    merge_instances_command,
    region_fill_command,
)
from seggui.core.layers import LabelLayer, Rect
from seggui.core.paint import StrokeRecorder, fill_command, polygon_mask
from seggui.core.undo import Command

TOOLS = ("brush", "eraser", "fill", "polygon", "pick", "delete", "merge", "erase_region", "set_class",
         "split", "add_cell", "box_cell")


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
        # A stroke (or polygon, or fill) that starts on background makes a new cell, one that
        # starts inside a cell extends it, unless a label was chosen explicitly (pick tool, New
        # instance): then that label stays until changed. False: always paint label_id (old way).
        "auto_label": True,
        "label_pinned": False,  # label_id was chosen explicitly
        "fill_max_share": 0.25,  # a fill larger than this share of the image is refused
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
        if name == "fill_max_share":
            value = float(min(max(value, 0.0), 1.0))
        if name == "label_id":
            self.label_pinned = True  # set from outside (pick tool, New instance, a script): explicit
        if getattr(self, name) != value:
            object.__setattr__(self, name, value)
            self.changed.emit(name, value)

    def set_automatic_label(self, value: int) -> None:
        """Make `value` current as the tools' own choice, leaving the label unpinned."""
        self.label_pinned = False
        if self.label_id != int(value):
            object.__setattr__(self, "label_id", int(value))
            self.changed.emit("label_id", int(value))

    def grow_brush(self, factor: float = 1.2) -> None:
        # Multiplicative steps feel even from 1 px to hundreds; +1 keeps small brushes moving.
        self.brush_radius = max(self.brush_radius * factor, self.brush_radius + 1)

    def shrink_brush(self, factor: float = 1.2) -> None:
        self.brush_radius = min(self.brush_radius / factor, self.brush_radius - 1)


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
        if self.name == "brush":
            self.controller.choose_label(x, y, new=bool(modifiers & Modifiers.SHIFT))
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
            class_command = class_table_command(self.layer, value, self.state.class_id, "set class")
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
        clicked = int(self.layer.data[where[1], where[0]])
        # Background: a new cell (or the label chosen explicitly); a cell: recolour it as before.
        value = self.controller.choose_label(x, y) if clicked == 0 else self.state.label_id
        if self.state.only_background and value != 0 and clicked != 0:
            return None
        if clicked == value:
            return None
        problem = fill_problem(self.layer.data, where[0], where[1], self.state.fill_max_share)
        if problem:
            self.controller.message.emit(problem)
            return None
        self.layer.ensure_capacity(value)
        command = fill_command(self.layer, where[0], where[1], value)
        return None if command is None else self.controller.push(command)


def fill_problem(data: np.ndarray, x: int, y: int, max_share: float) -> str | None:
    """Why a fill at (x, y) would surprise: a background region open to the image edge, or
    one larger than `max_share` of the image (a fill that floods the image is never meant)."""
    from seggui.core.paint import connected_region

    height, width = data.shape
    (y0, x0, y1, x1), mask = connected_region(data, x, y)
    share = np.count_nonzero(mask) / float(height * width)
    if data[y, x] == 0 and (
            (y0 == 0 and mask[0].any()) or (x0 == 0 and mask[:, 0].any())
            or (y1 == height and mask[-1].any()) or (x1 == width and mask[:, -1].any())):
        return ("Fill refused: this background region is open to the image edge. Fill fills closed "
                "outlines; paint or draw a polygon for open areas.")
    if share > max_share:
        return (f"Fill refused: the region is {100 * share:.0f}% of the image, above the limit of "
                f"{100 * max_share:.0f}% (Tools settings).")
    return None


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
        value = self.controller.choose_label(*points[0])
        command = region_fill_command(self.layer, rect, mask, value,
                                      only_background=self.state.only_background)
        return None if command is None else self.controller.push(command)


class PickTool(Tool):
    name = "pick"
    edits = False

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        if not instance_id:
            self.state.label_pinned = False  # picking background goes back to automatic
        if instance_id:
            self.state.label_id = instance_id  # pins it
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


def dragged_rect(start: tuple[float, float], end: tuple[float, float], shape: tuple[int, int]) -> Rect:
    """(y0, x0, y1, x1) of the pixels a drag from `start` to `end` (x, y) covers, clipped to the image."""
    (xa, ya), (xb, yb) = start, end
    height, width = shape
    y0, y1 = max(int(np.floor(min(ya, yb))), 0), min(int(np.ceil(max(ya, yb))), height)
    x0, x1 = max(int(np.floor(min(xa, xb))), 0), min(int(np.ceil(max(xa, xb))), width)
    return y0, x0, y1, x1


class DragTool(Tool):
    """A tool that acts on what a drag covers: a rectangle between press and release, or a
    lasso (`lasso_allowed`: the state's region shape, or Alt held). Subclasses act in
    `dragged(points)`; the corners (or lasso points) are previewed while dragging."""

    lasso_allowed = False

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.points: list[tuple[float, float]] = []
        self.lasso = False

    def press(self, x, y, modifiers):
        self.lasso = self.lasso_allowed and (self.state.region_shape == "lasso" or bool(modifiers & Modifiers.ALT))
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
        return self.dragged(points)

    def dragged(self, points: list[tuple[float, float]]) -> Rect | None:
        raise NotImplementedError

    def cancel(self) -> None:
        self.points = []
        self.controller.preview_changed.emit()


class EraseRegionTool(DragTool):
    """Drag a rectangle (or a lasso, or hold Alt) and clear every label inside it."""

    name = "erase_region"
    lasso_allowed = True

    def dragged(self, points):
        if self.lasso:
            hit = polygon_mask(np.asarray(points), self.layer.shape)
        else:
            y0, x0, y1, x1 = dragged_rect(points[0], points[-1], self.layer.shape)
            hit = ((y0, x0, y1, x1), np.ones((y1 - y0, x1 - x0), bool)) if y1 > y0 and x1 > x0 else None
        if hit is None:
            return None
        only_id = self.state.label_id if self.state.erase_only_current else None
        command = region_fill_command(self.layer, hit[0], hit[1], 0, only_id=only_id,
                                      description="erase region")
        return None if command is None else self.controller.push(command)


class SetClassTool(Tool):
    name = "set_class"

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        class_id = self.state.class_id
        if not instance_id or self.layer.class_of(instance_id) == class_id:
            return None
        command = class_table_command(self.layer, instance_id, class_id, f"set class of {instance_id}")
        self.controller.push(command)
        return instance_boxes(self.layer).box(instance_id)


class SplitTool(Tool):
    """Click once in each part of a cell, then Enter (or right-click): a seeded watershed of
    the cell's distance transform splits it. One click and Enter: split at its own necks."""

    name = "split"

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.points: list[tuple[float, float]] = []
        self.selected_id = 0  # the cell being split (the first click's)

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        if not self.points:
            if not instance_id:
                self.controller.message.emit("Split: click inside the cell to split, once per part")
                return None
            self.selected_id = instance_id
        elif instance_id != self.selected_id:
            self.controller.message.emit(f"Split: that click is outside cell {self.selected_id}")
            return None
        self.points.append((x, y))
        self.controller.preview_changed.emit()
        return None

    def finish(self) -> Rect | None:
        points, instance_id = self.points, self.selected_id
        self.cancel()
        if not points:
            return None
        command = split_instance_command(self.layer, instance_id, points, image=self.controller.current_image())
        if command is None:
            self.controller.message.emit("Split: nothing to split (click once in each part, then Enter)")
            return None
        return self.controller.push(command)

    def cancel(self) -> None:
        self.points, self.selected_id = [], 0
        self.controller.preview_changed.emit()


class AddCellTool(Tool):
    """Click on unlabelled pixels to add the cell there (from the model's probability map
    when the window has one, else from the image around the click)."""

    name = "add_cell"

    def press(self, x, y, modifiers):
        if self.id_at(x, y):
            self.controller.message.emit("Add cell: click on unlabelled pixels (this one is a cell already)")
            return None
        image = self.controller.current_image()
        if image is None:
            self.controller.message.emit("Add cell: no image to segment")
            return None
        hit = add_cell_mask(image, x, y, self.layer.data, self._probability())
        if hit is None:
            self.controller.message.emit("Add cell: found no cell at the click; paint it with the brush")
            return None
        return self._add(hit, x, y)

    def _probability(self) -> np.ndarray | None:
        """The model's foreground map of this image, when it was pre-segmented lately."""
        source = self.controller.probability_source
        probability = source() if source is not None else None
        if probability is not None and probability.shape != self.layer.shape:
            return None
        return probability

    def _add(self, hit, x: float, y: float) -> Rect | None:
        rect, mask = hit
        value = self.controller.choose_label(x, y, new=True)
        command = region_fill_command(self.layer, rect, mask, value, only_background=True,
                                      description=f"add cell {value}")
        if command is None:
            return None
        if self.state.class_id != self.layer.class_of(value):
            command.redo()
            class_command = class_table_command(self.layer, value, self.state.class_id, "set class")
            class_command.redo()
            return self.controller.push(CompositeCommand(command.description, [command, class_command]),
                                        execute=False)
        return self.controller.push(command)


class BoxCellTool(DragTool, AddCellTool):
    """Drag a box around a cell the model missed: the cell inside it is added (from the
    model's map when there is one, else from the image inside and around the box)."""

    name = "box_cell"

    def dragged(self, points):
        return self.add_in_box(dragged_rect(points[0], points[-1], self.layer.shape))

    def add_in_box(self, rect: Rect) -> Rect | None:
        """Add the cell inside `rect` (y0, x0, y1, x1) as one undo step."""
        if rect[2] - rect[0] < 3 or rect[3] - rect[1] < 3:
            self.controller.message.emit("Box cell: drag a box around the cell")
            return None
        image = self.controller.current_image()
        if image is None:
            self.controller.message.emit("Box cell: no image to segment")
            return None
        hit = box_cell_mask(image, rect, self.layer.data, self._probability())
        if hit is None:
            self.controller.message.emit("Box cell: found no cell in the box; paint it with the brush")
            return None
        centre_y, centre_x = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
        return self._add(hit, centre_x, centre_y)


TOOL_CLASSES: dict[str, type[Tool]] = {
    cls.name: cls for cls in (BrushTool, EraserTool, FillTool, PolygonTool, PickTool, DeleteTool,
                              MergeTool, EraseRegionTool, SetClassTool, SplitTool, AddCellTool, BoxCellTool)
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
        # The current image's pixels and, optionally, a model's foreground probability map
        # (image-sized, 0..1), for the add_cell tool; set by whoever shows the image.
        self.image_source: Callable[[], np.ndarray | None] | None = None
        self.probability_source: Callable[[], np.ndarray | None] | None = None
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
            if self.layer is not None and layer is not None:
                self.state.label_pinned = False  # ids of another layer mean other cells
            self.layer = layer

    def current_image(self) -> np.ndarray | None:
        image = self.image_source() if self.image_source is not None else None
        if image is None or self.layer is None or tuple(image.shape[:2]) != tuple(self.layer.shape):
            return None
        return image

    def choose_label(self, x: float, y: float, new: bool = False) -> int:
        """The label an edit starting at (x, y) writes, made current (see ToolState.auto_label).

        `new` (Shift+stroke) always starts a new cell. Otherwise, unless a label was chosen
        explicitly, the cell under the press is extended and background starts a new cell, so
        a stroke far from the last cell never silently continues it.
        """
        state, layer = self.state, self.layer
        if layer is None:
            return state.label_id
        if new:
            state.set_automatic_label(layer.next_free_id())
        elif state.auto_label and not state.label_pinned:
            ix, iy = int(np.floor(x)), int(np.floor(y))
            height, width = layer.shape
            under = int(layer.data[iy, ix]) if 0 <= ix < width and 0 <= iy < height else 0
            state.set_automatic_label(under or layer.next_free_id())
        return state.label_id

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
            self.state.label_id = self.layer.next_free_id()  # chosen explicitly: pinned until changed
        return self.state.label_id

    def push(self, command: Command, execute: bool = True) -> Rect | None:
        inner = command.commands[0] if isinstance(command, CompositeCommand) else command
        rect = getattr(inner, "rect", None)
        # A person's edit makes a new or predicted image "edited" in the same undo step, so
        # batch pre-segmentation knows to leave it alone and one Ctrl+Z restores both.
        entry = self.document.entry_of_layer(self.layer) if self.layer is not None else None
        status = self.document.person_edit_status(entry) if entry is not None else None
        if status is not None:
            if not execute:
                status.redo()
            command = CompositeCommand(command.description, [command, status])
        self.document.undo_stack.push(command, execute=execute, entry=entry)
        return rect
