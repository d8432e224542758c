"""Assisted tools: split a cell, add a cell at a click, add the cell inside a dragged box.

The masks come from `seggui.core.assisted` (the image, and the model's probability map when
the window has one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seggui.core.assisted import add_cell_mask
from seggui.core.split_cell import split_by_line_command, split_instance_command
from seggui.core.box_cell import box_cell_mask
from seggui.core.instance_edits import CompositeCommand, class_table_command, region_fill_command
from seggui.core.layers import Rect
from seggui.core.tools.base import DragTool, Tool, dragged_rect

if TYPE_CHECKING:
    from seggui.core.tools.controller import ToolController


class SplitTool(Tool):
    """Click once in each part of a cell, then Enter (or right-click): a seeded watershed of
    the cell's distance transform splits it. One click and Enter: split at its own necks.
    Or drag a line across a cell: it is cut along the line at once (one undo step)."""

    name = "split"

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.points: list[tuple[float, float]] = []
        self.selected_id = 0  # the cell being split (the first click's)
        self.line: tuple[tuple[float, float], tuple[float, float]] | None = None  # while dragging

    def press(self, x, y, modifiers):
        # A click or the start of a line: which one is known at release.
        self.line = ((x, y), (x, y))
        return None

    def move(self, x, y):
        if self.line is not None:
            self.line = (self.line[0], (x, y))
            self.controller.preview_changed.emit()
        return None

    def release(self, x, y):
        if self.line is None:
            return None
        start, self.line = self.line[0], None
        self.controller.preview_changed.emit()
        if self.pixel(*start) != self.pixel(x, y):
            # A line that cuts a cell in two splits it; one that does not (a shaky click
            # inside a cell) counts as the click where it began.
            command = split_by_line_command(self.layer, start, (x, y))
            if command is not None:
                self.points, self.selected_id = [], 0
                return self.controller.push(command)
        return self._click(*start)

    def _click(self, x: float, y: float) -> Rect | None:
        instance_id = self.id_at(x, y)
        if not self.points:
            if not instance_id:
                self.controller.message.emit("Split: click inside the cell once per part, then Enter; "
                                             "or drag a line across it")
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
        self.points, self.selected_id, self.line = [], 0, None
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
