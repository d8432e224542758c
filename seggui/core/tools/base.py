"""The base of every editing tool: `Tool` (one tool's gesture handling) and `DragTool` (a tool
that acts on the rectangle or lasso a drag covers), with the helpers the tool families share.

The families are `painting` (brush, eraser, fill), `shapes` (polygon, erase region),
`instances` (pick, delete, merge, set class) and `assisted` (split, add cell, box cell);
`registry` names them. This module imports none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seggui.core.layers import LabelLayer, Rect
from seggui.core.tools.state import Modifiers, ToolState

if TYPE_CHECKING:
    from seggui.core.tools.controller import ToolController


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
