"""What the canvas draws over the layers: vector shapes, the hovered instance, the cell the
Review queue selected, tool previews and the brush cursor. Each piece reports its widget-space bounds so that moving it
repaints only the pixels it covered."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

from seggui.core.instance_edits import instance_boxes
from seggui.core.layers import LabelLayer
from seggui.core.paint import connected_region
from seggui.core.tools import BoxCellTool, DragTool, EraseRegionTool, PolygonTool, SplitTool, Tool
from seggui.ui.canvas.render import boundaries

if TYPE_CHECKING:
    from seggui.ui.canvas.view import Canvas

VECTOR_COLOR = QColor(0, 255, 255)
PREVIEW_COLOR = QColor(255, 255, 255)
HIGHLIGHT_FILL = 0x50505050  # premultiplied white at ~30 %: visible at every zoom
HIGHLIGHT_EDGE = 0xFFFFFFFF
# The Review queue's cell: yellow, the one colour neither the red-to-green confidence ramp, the
# white hover nor grey or fluorescent images use.
MARK_EDGE = 0xFFFFD200
MARK_COLOR = QColor(255, 210, 0)
MARK_PAD = 6  # widget pixels between the cell and its frame, so the frame never hides its edge


class Highlight:
    """The instance under the cursor, as a small image over its connected region."""

    def __init__(self, layer: LabelLayer, x: int, y: int):
        self.layer = layer
        self.instance_id = int(layer.data[y, x])
        (y0, x0, y1, x1), mask = connected_region(layer.data, x, y)
        self.rect = (y0, x0, y1, x1)
        padded = np.pad(mask, 1)
        pixels = np.where(mask, np.uint32(HIGHLIGHT_FILL), np.uint32(0))
        pixels[boundaries(padded.astype(np.uint8))] = HIGHLIGHT_EDGE
        self._pixels = np.ascontiguousarray(pixels)
        height, width = self._pixels.shape
        self.image = QImage(self._pixels.data, width, height, self._pixels.strides[0],
                            QImage.Format.Format_ARGB32_Premultiplied)

    def draw(self, painter: QPainter, canvas: "Canvas") -> None:
        painter.drawImage(canvas.image_rect_to_widget(self.rect), self.image)

    def intersects(self, rect: tuple[int, int, int, int]) -> bool:
        y0, x0, y1, x1 = self.rect
        return not (rect[2] <= y0 or rect[0] >= y1 or rect[3] <= x0 or rect[1] >= x1)


class MarkedCell:
    """The cell the Review queue selected: its edge pixels in yellow and a yellow frame around
    it (a frame stays visible when the cell is a few pixels at the zoom shown)."""

    def __init__(self, layer: LabelLayer, instance_id: int):
        self.layer, self.instance_id = layer, int(instance_id)
        self.image: QImage | None = None
        box = instance_boxes(layer).box(self.instance_id)  # conservative: holds the whole cell
        self.rect: tuple[int, int, int, int] = tuple(int(v) for v in box) if box is not None else (0, 0, 0, 0)
        self.update()

    def touched_by(self, changed: tuple[int, int, int, int]) -> bool:
        """Whether an edit of `changed` (y0, x0, y1, x1) can have changed the cell: it overlaps
        the cell's rect or holds the cell's id. A stroke elsewhere costs only its own pixels
        (it runs on every mouse move)."""
        y0, x0, y1, x1 = self.rect
        c0, c1, c2, c3 = (int(v) for v in changed)
        if not (c2 <= y0 or c0 >= y1 or c3 <= x0 or c1 >= x1):
            return True
        return bool((self.layer.data[c0:c2, c1:c3] == self.instance_id).any())

    def update(self, changed: tuple[int, int, int, int] | None = None) -> bool:
        """Follow an edit of `changed` (y0, x0, y1, x1): the cell lies within its old rect and
        the edited one. False when the cell is gone."""
        y0, x0, y1, x1 = self.rect
        if changed is not None:
            y0, x0 = min(y0, int(changed[0])), min(x0, int(changed[1]))
            y1, x1 = max(y1, int(changed[2])), max(x1, int(changed[3]))
        mask = self.layer.data[y0:y1, x0:x1] == self.instance_id
        rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        if not rows.size:
            self.image = None
            return False
        mask = mask[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
        self.rect = (y0 + int(rows[0]), x0 + int(columns[0]), y0 + int(rows[-1]) + 1, x0 + int(columns[-1]) + 1)
        pixels = np.where(boundaries(np.pad(mask, 1).astype(np.uint8)), np.uint32(MARK_EDGE), np.uint32(0))
        self._pixels = np.ascontiguousarray(pixels)
        height, width = self._pixels.shape
        self.image = QImage(self._pixels.data, width, height, self._pixels.strides[0],
                            QImage.Format.Format_ARGB32_Premultiplied)
        return True

    def frame(self, canvas: "Canvas") -> QRectF:
        return canvas.image_rect_to_widget(self.rect).adjusted(-MARK_PAD, -MARK_PAD, MARK_PAD, MARK_PAD)

    def bounds(self, canvas: "Canvas") -> QRect:
        return self.frame(canvas).toAlignedRect().adjusted(-3, -3, 3, 3)

    def draw(self, painter: QPainter, canvas: "Canvas") -> None:
        if self.image is None:
            return
        painter.drawImage(canvas.image_rect_to_widget(self.rect), self.image)
        pen = QPen(MARK_COLOR, 2.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self.frame(canvas))


class VectorIndex:
    """Bounding boxes of a layer's vector shapes, so a repaint draws only those it exposes."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._boxes = np.zeros((0, 4))

    def visible(self, layer: LabelLayer, image_rect: QRectF) -> list[int]:
        key = (id(layer.vectors), len(layer.vectors))
        if key != self._key:
            self._key = key
            boxes = []
            for shape in layer.vectors:
                points = np.asarray(shape.points, dtype=float).reshape(-1, 2)
                if len(points):
                    boxes.append((points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()))
                else:
                    boxes.append((np.inf, np.inf, -np.inf, -np.inf))
            self._boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        if not len(self._boxes):
            return []
        pad = 8.0
        left, top = image_rect.left() - pad, image_rect.top() - pad
        right, bottom = image_rect.right() + pad, image_rect.bottom() + pad
        b = self._boxes
        hit = (b[:, 2] >= left) & (b[:, 0] <= right) & (b[:, 3] >= top) & (b[:, 1] <= bottom)
        return np.nonzero(hit)[0].tolist()


def draw_vectors(painter: QPainter, canvas: "Canvas", layer: LabelLayer, index: VectorIndex,
                 image_rect: QRectF) -> None:
    pen = QPen(VECTOR_COLOR, 1.5)
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    classes = {c.id: c.color for c in layer.classes}
    for position in index.visible(layer, image_rect):
        shape = layer.vectors[position]
        color = classes.get(shape.class_id) if shape.class_id is not None else None
        pen.setColor(QColor(*color) if color else VECTOR_COLOR)
        painter.setPen(pen)
        points = [canvas.image_to_widget(QPointF(float(x), float(y)))
                  for x, y in np.asarray(shape.points, dtype=float).reshape(-1, 2)]
        if not points:
            continue
        if shape.kind in ("point", "points"):
            for point in points:
                painter.drawEllipse(point, 3.0, 3.0)
        elif shape.kind == "box" and len(points) >= 2:
            painter.drawRect(QRectF(points[0], points[-1]).normalized())
        else:
            painter.drawPolyline(QPolygonF(points))


def previewed_points(tool: Tool) -> list[tuple[float, float]]:
    """The image points (x, y) a tool shows while it works: a polygon's vertices, the split
    tool's seeds, a drag's corners or lasso. The other tools keep no points."""
    if isinstance(tool, (PolygonTool, SplitTool, DragTool)):
        return list(tool.points)
    return []


def draw_tool_preview(painter: QPainter, canvas: "Canvas") -> None:
    controller = canvas.controller
    tool = controller.tool
    pen = QPen(PREVIEW_COLOR, 1.0, Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    points = [canvas.image_to_widget(QPointF(x, y)) for x, y in previewed_points(tool)]
    if isinstance(tool, PolygonTool) and points:
        if canvas.cursor_position is not None:
            points = points + [canvas.cursor_position]
        painter.drawPolyline(QPolygonF(points))
    elif isinstance(tool, SplitTool) and (points or tool.line is not None):  # seeds clicked so far, a line drawn
        for point in points:
            painter.drawEllipse(point, 4.0, 4.0)
        if tool.line is not None:
            painter.drawLine(*(canvas.image_to_widget(QPointF(x, y)) for x, y in tool.line))
    elif isinstance(tool, BoxCellTool) and points:
        painter.drawRect(QRectF(points[0], points[-1]).normalized())
    elif isinstance(tool, EraseRegionTool) and points:
        if tool.lasso:
            painter.drawPolygon(QPolygonF(points))
        else:
            painter.drawRect(QRectF(points[0], points[-1]).normalized())


def tool_preview_bounds(canvas: "Canvas") -> QRect:
    tool = canvas.controller.tool
    points = previewed_points(tool)
    if isinstance(tool, SplitTool) and tool.line is not None:
        points += list(tool.line)
    if not points:
        return QRect()
    array = np.asarray(points, dtype=float)
    top_left = canvas.image_to_widget(QPointF(array[:, 0].min(), array[:, 1].min()))
    bottom_right = canvas.image_to_widget(QPointF(array[:, 0].max(), array[:, 1].max()))
    bounds = QRectF(top_left, bottom_right).normalized()
    if canvas.cursor_position is not None and isinstance(tool, PolygonTool):
        bounds = bounds.united(QRectF(canvas.cursor_position, canvas.cursor_position))
    return bounds.toAlignedRect().adjusted(-3, -3, 3, 3)


def brush_cursor_bounds(canvas: "Canvas") -> QRect:
    position = canvas.cursor_position
    if position is None or canvas.tool_state.tool not in ("brush", "eraser"):
        return QRect()
    radius = canvas.tool_state.brush_radius * canvas.zoom
    return QRectF(position.x() - radius, position.y() - radius, 2 * radius, 2 * radius).toAlignedRect().adjusted(
        -3, -3, 3, 3)


def draw_brush_cursor(painter: QPainter, canvas: "Canvas") -> None:
    position = canvas.cursor_position
    if position is None or canvas.tool_state.tool not in ("brush", "eraser"):
        return
    radius = max(canvas.tool_state.brush_radius * canvas.zoom, 1.0)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    # Dark under light keeps the circle visible on both bright and dark pixels.
    for color, width in ((QColor(0, 0, 0, 160), 3.0), (QColor(255, 255, 255), 1.0)):
        pen = QPen(color, width)
        if canvas.tool_state.tool == "eraser":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawEllipse(position, radius, radius)
