"""Painting tools: the brush, the eraser and the flood fill."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seggui.core.instance_edits import CompositeCommand, class_table_command
from seggui.core.paint import StrokeRecorder, connected_region, fill_command
from seggui.core.tools.base import Tool
from seggui.core.tools.state import Modifiers

if TYPE_CHECKING:
    from seggui.core.tools.controller import ToolController


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
