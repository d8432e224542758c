"""Outline tools: the polygon (clicked vertices or a dragged lasso) fills what it encloses;
erase region clears what a dragged rectangle or lasso covers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seggui.core.instance_edits import region_fill_command
from seggui.core.layers import Rect
from seggui.core.paint import polygon_mask
from seggui.core.tools.base import DragTool, Tool, dragged_rect

if TYPE_CHECKING:
    from seggui.core.tools.controller import ToolController


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
