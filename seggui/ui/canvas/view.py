"""The canvas widget: shows one image with its label layers and turns mouse gestures into
tool actions.

Performance rules: nothing per mouse move scales with the image. Layers are drawn from
cached tiles at the level of detail that matches the zoom; an edit recolours only the
tile pixels its rectangle touches and repaints only that rectangle of the widget.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from seggui.core.document import Document, ImageEntry
from seggui.core.layers import ImageLayer, LabelLayer, Rect
from seggui.core.tools import Modifiers, PolygonTool, ToolController, ToolState
from seggui.ui.canvas import overlay
from seggui.ui.canvas.render import ImageRenderer, LabelPalette, render_labels, render_proposal, sample_level
from seggui.ui.canvas.tiles import TILE, TileSource
from seggui.ui.canvas.scale_bar import draw_scale_bar

BACKGROUND = QColor(32, 32, 36)
MIN_ZOOM_FACTOR = 0.25  # of the fit-to-window zoom
MAX_ZOOM = 64.0
RERENDER_ON = {"contrast_limits", "gamma", "colormaps", "channel_visible", "contour_only",
               "color_by_class", "classes"}


class Canvas(QWidget):
    cursor_moved = Signal(int, int)  # image pixel under the pointer; (-1, -1) outside
    view_changed = Signal()  # zoom or pan changed

    def __init__(self, document: Document, tool_state: ToolState, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.tool_state = tool_state
        self.controller = ToolController(document, tool_state)
        self.controller.image_source = self._image_pixels  # for the add_cell tool
        self.controller.probability_source = lambda: document.model_maps.get(
            self._entry.id if self._entry is not None else None)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(64, 64)
        self._entry: ImageEntry | None = None
        self._zoom = 1.0
        self._offset = QPointF(0.0, 0.0)  # widget position of image point (0, 0)
        self._fitted = True  # keep fitting on resize until the user zooms or pans
        self._sources: dict[str, tuple[Any, TileSource]] = {}  # layer id -> (layer, tiles)
        self._palettes: dict[str, LabelPalette] = {}
        self._by_confidence = False  # outlines and fills coloured by the model's score
        self._vector_indices: dict[str, overlay.VectorIndex] = {}
        self._proposal: np.ndarray | None = None
        self._proposal_tiles: TileSource | None = None
        self._connections: list[tuple[Any, Any]] = []
        self.cursor_position: QPointF | None = None
        self._cursor_pixel = (-1, -1)
        self._pan_from: QPointF | None = None
        self._space_down = False
        self._highlight: overlay.Highlight | None = None
        self._marked: overlay.MarkedCell | None = None  # the Review queue's selected cell
        self._preview_bounds = QRect()
        document.layer_added.connect(self._on_structure_changed)
        document.layer_removed.connect(self._on_structure_changed)
        document.layers_moved.connect(self._on_structure_changed)
        tool_state.changed.connect(self._on_tool_state_changed)
        self.controller.preview_changed.connect(self._on_preview_changed)
        # Layers hold our callbacks strongly; a deleted widget must not be called back.
        connections = self._connections
        self.destroyed.connect(lambda *_: [signal.disconnect(callback) for signal, callback in connections])

    # -- public API ------------------------------------------------------------------------
    @property
    def entry(self) -> ImageEntry | None:
        return self._entry

    @property
    def active_layer(self) -> LabelLayer | None:
        return self.controller.layer

    @property
    def proposal(self) -> np.ndarray | None:
        """The model proposal drawn over the image (set_proposal), or None."""
        return self._proposal

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def offset(self) -> QPointF:
        return QPointF(self._offset)

    def _image_pixels(self) -> np.ndarray | None:
        """The shown image's raw pixels (read when a tool needs them, never kept)."""
        layer = self._entry.image_layer if self._entry is not None else None
        return None if layer is None else layer.data

    def set_image(self, entry: ImageEntry | None) -> None:
        self.controller.cancel()
        self._entry = entry
        self._proposal, self._proposal_tiles = None, None
        self._marked = None
        self._rebuild_sources()
        labels = entry.label_layers if entry is not None else []
        self.set_active_layer(labels[0] if labels else None)
        self.fit_to_window()

    def set_active_layer(self, layer: LabelLayer | None) -> None:
        self.controller.set_layer(layer)
        self._set_highlight(None)

    def set_proposal(self, labels: np.ndarray | None) -> None:
        """Show a model proposal (instance labels, image-sized) as outlines, or hide it."""
        shape = self._image_shape()
        if labels is not None and (shape is None or labels.shape[:2] != shape):
            raise ValueError(f"proposal shape {labels.shape} differs from image shape {shape}")
        self._proposal = labels
        self._proposal_tiles = None if labels is None else TileSource(
            labels.shape, lambda level, rect: render_proposal(labels, level, rect),
            QImage.Format.Format_ARGB32_Premultiplied, margin=1)
        self.update()

    def fit_to_window(self) -> None:
        shape = self._image_shape()
        if shape is None:
            self.update()
            return
        height, width = shape
        zoom = min(self.width() / width, self.height() / height)
        self._zoom = zoom
        self._offset = QPointF((self.width() - width * zoom) / 2, (self.height() - height * zoom) / 2)
        self._fitted = True
        self._view_moved()

    def zoom_1to1(self) -> None:
        self.set_zoom(1.0, QPointF(self.width() / 2, self.height() / 2))

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under `anchor` (widget coordinates) in place."""
        shape = self._image_shape()
        if shape is None:
            return
        fit = min(self.width() / shape[1], self.height() / shape[0])
        zoom = float(min(max(zoom, min(fit * MIN_ZOOM_FACTOR, 1.0)), MAX_ZOOM))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        image_point = self.widget_to_image(anchor)
        self._zoom = zoom
        self._offset = QPointF(anchor.x() - image_point.x() * zoom, anchor.y() - image_point.y() * zoom)
        self._fitted = False
        self._view_moved()

    def pan(self, dx: float, dy: float) -> None:
        self._offset += QPointF(dx, dy)
        self._fitted = False
        self._view_moved()

    def widget_to_image(self, point: QPointF) -> QPointF:
        return QPointF((point.x() - self._offset.x()) / self._zoom, (point.y() - self._offset.y()) / self._zoom)

    def image_to_widget(self, point: QPointF) -> QPointF:
        return QPointF(point.x() * self._zoom + self._offset.x(), point.y() * self._zoom + self._offset.y())

    def image_rect_to_widget(self, rect: Rect) -> QRectF:
        y0, x0, y1, x1 = rect
        return QRectF(x0 * self._zoom + self._offset.x(), y0 * self._zoom + self._offset.y(),
                      (x1 - x0) * self._zoom, (y1 - y0) * self._zoom)

    @property
    def level(self) -> int:
        """Level of detail drawn now: every 2**level-th pixel."""
        shape = self._image_shape()
        if shape is None or self._zoom >= 1.0:
            return 0
        deepest = max(int(math.log2(max(shape))) - 1, 0)
        return min(int(math.floor(math.log2(1.0 / self._zoom) + 1e-9)), deepest)

    # -- layer bookkeeping -----------------------------------------------------------------
    def _image_shape(self) -> tuple[int, int] | None:
        if self._entry is None:
            return None
        layers = self._entry.layers
        return tuple(layers[0].shape) if layers else None  # type: ignore[return-value]

    def _connect(self, signal: Any, callback: Any) -> None:
        signal.connect(callback)
        self._connections.append((signal, callback))

    def _rebuild_sources(self) -> None:
        for signal, callback in self._connections:
            signal.disconnect(callback)
        self._connections.clear()
        self._sources, self._palettes, self._vector_indices = {}, {}, {}
        self._set_highlight(None)
        if self._marked is not None and (self._entry is None or all(self._marked.layer is not l
                                                                     for l in self._entry.layers)):
            self._marked = None  # its layer was removed
        if self._entry is None:
            self.update()
            return
        for layer in self._entry.layers:
            if isinstance(layer, ImageLayer):
                renderer = ImageRenderer(layer)
                tiles = TileSource(layer.shape, lambda level, rect, l=layer, r=renderer: r.render(
                    sample_level(l.data, level, rect)), QImage.Format.Format_RGB32)
            else:
                palette = self._palettes[layer.id] = LabelPalette(layer, self._by_confidence)
                self._vector_indices[layer.id] = overlay.VectorIndex()
                tiles = TileSource(layer.shape, lambda level, rect, l=layer, p=palette: render_labels(
                    l.data, level, rect, p, l.contour_only), QImage.Format.Format_ARGB32_Premultiplied, margin=1)
                self._connect(layer.data_changed, lambda rect, l=layer: self._on_data_changed(l, rect))
                self._connect(layer.instances_changed, lambda l=layer: self._on_instances_changed(l))
            self._sources[layer.id] = (layer, tiles)
            self._connect(layer.changed, lambda name, *_, l=layer: self._on_layer_changed(l, name))
        if self.controller.layer is not None and self.controller.layer.id not in self._sources:
            self.set_active_layer(None)
        self.update()

    def _on_structure_changed(self, entry: ImageEntry, *args: Any) -> None:
        if entry is self._entry:
            self._rebuild_sources()

    def _on_layer_changed(self, layer: Any, name: str) -> None:
        if name in RERENDER_ON:
            if layer.id in self._palettes:
                self._palettes[layer.id].invalidate()
            self._sources[layer.id][1].invalidate()
        if name in ("visible", "opacity") or name in RERENDER_ON:
            self.update()

    @property
    def color_by_confidence(self) -> bool:
        return self._by_confidence

    def set_color_by_confidence(self, on: bool) -> None:
        """Colour cells red-to-green by instance_info[id]["score"] (blue: no score), or as usual."""
        self._by_confidence = bool(on)
        for layer_id, palette in self._palettes.items():
            palette.by_confidence = self._by_confidence
            palette.invalidate()
            self._sources[layer_id][1].invalidate()
        self.update()

    @property
    def marked_cell(self) -> tuple[LabelLayer, int] | None:
        """(layer, cell id) framed in yellow, or None."""
        return (self._marked.layer, self._marked.instance_id) if self._marked is not None else None

    def mark_cell(self, layer: LabelLayer | None, cell: int | None) -> None:
        """Frame one cell of a layer of the image on screen in yellow (the Review queue's
        selection), following its edits; None clears it. A cell that is not there marks nothing."""
        if self._marked is not None:
            self.update(self._marked.bounds(self))
        self._marked = None
        if layer is None or not cell or self._entry is None or all(layer is not l for l in self._entry.layers):
            return
        marked = overlay.MarkedCell(layer, cell)
        if marked.image is not None:
            self._marked = marked
            self.update(marked.bounds(self))

    def _on_instances_changed(self, layer: LabelLayer) -> None:
        if layer.color_by_class or self._by_confidence:
            self._palettes[layer.id].invalidate()
            self._sources[layer.id][1].invalidate()
            self.update()

    def _on_data_changed(self, layer: LabelLayer, rect: Rect) -> None:
        palette = self._palettes[layer.id]
        table = palette.table()
        if table is not None and layer.max_id >= len(table):
            palette.invalidate()
        self._sources[layer.id][1].update_rect(rect)
        if self._highlight is not None and self._highlight.layer is layer and self._highlight.intersects(rect):
            self._set_highlight(None)
        if self._marked is not None and self._marked.layer is layer and self._marked.touched_by(rect):
            # it may have grown, shrunk or gone
            self.update(self._marked.bounds(self))
            if self._marked.update(rect):
                self.update(self._marked.bounds(self))
            else:
                self._marked = None
        if layer.visible:
            self.update(self._dirty_widget_rect(rect))

    def _dirty_widget_rect(self, rect: Rect) -> QRect:
        # A coarse level shows an edit as whole blocks (plus a contour margin): pad by two blocks.
        pad = 2 * (1 << self.level)
        y0, x0, y1, x1 = rect
        bounds = self.image_rect_to_widget((y0 - pad, x0 - pad, y1 + pad, x1 + pad)).toAlignedRect()
        return bounds.adjusted(-1, -1, 1, 1).intersected(self.rect())

    def _view_moved(self) -> None:
        self.controller.pick_tolerance = 6.0 / self._zoom
        self._preview_bounds = overlay.tool_preview_bounds(self)
        self.update()
        self.view_changed.emit()

    # -- painting ----------------------------------------------------------------------------
    def _draw_list(self) -> list[tuple[TileSource, float]]:
        if self._entry is None:
            return []
        drawn = []
        for layer in self._entry.layers:
            entry = self._sources.get(layer.id)
            if entry is not None and layer.visible and layer.opacity > 0:
                opacity = layer.opacity
                if isinstance(layer, LabelLayer) and layer.contour_only:
                    opacity = min(1.0, opacity * 2)  # thin outlines vanish at fill opacity
                drawn.append((entry[1], opacity))
        if self._proposal_tiles is not None:
            drawn.append((self._proposal_tiles, 1.0))
        return drawn

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        exposed = event.rect()
        painter.fillRect(exposed, BACKGROUND)
        shape = self._image_shape()
        if shape is not None:
            self._paint_layers(painter, exposed)
            painter.setOpacity(1.0)
            self._paint_overlay(painter, exposed)
        painter.end()

    def _paint_layers(self, painter: QPainter, exposed: QRect) -> None:
        level = self.level
        scale = self._zoom * (1 << level)  # widget pixels per level pixel
        ox, oy = self._offset.x(), self._offset.y()
        for tiles, opacity in self._draw_list():
            height, width = tiles.level_shape(level)
            ly0 = max(int(math.floor((exposed.top() - oy) / scale)), 0)
            lx0 = max(int(math.floor((exposed.left() - ox) / scale)), 0)
            ly1 = min(int(math.ceil((exposed.bottom() + 1 - oy) / scale)), height)
            lx1 = min(int(math.ceil((exposed.right() + 1 - ox) / scale)), width)
            if ly0 >= ly1 or lx0 >= lx1:
                continue
            painter.setOpacity(opacity)
            for row in range(ly0 // TILE, (ly1 - 1) // TILE + 1):
                for column in range(lx0 // TILE, (lx1 - 1) // TILE + 1):
                    image = tiles.tile(level, row, column)
                    ty0, tx0 = row * TILE, column * TILE
                    sy0, sx0 = max(ly0, ty0), max(lx0, tx0)
                    sy1, sx1 = min(ly1, ty0 + image.height()), min(lx1, tx0 + image.width())
                    target = QRectF(ox + sx0 * scale, oy + sy0 * scale, (sx1 - sx0) * scale, (sy1 - sy0) * scale)
                    painter.drawImage(target, image, QRectF(sx0 - tx0, sy0 - ty0, sx1 - sx0, sy1 - sy0))

    def _paint_overlay(self, painter: QPainter, exposed: QRect) -> None:
        if self._highlight is not None and self._highlight.layer.visible:
            self._highlight.draw(painter, self)
        if self._marked is not None and self._marked.layer.visible:
            self._marked.draw(painter, self)
        image_rect = QRectF(self.widget_to_image(QPointF(exposed.topLeft())),
                            self.widget_to_image(QPointF(exposed.bottomRight()) + QPointF(1, 1)))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for layer in self._entry.layers if self._entry is not None else []:
            if isinstance(layer, LabelLayer) and layer.visible and layer.vectors:
                overlay.draw_vectors(painter, self, layer, self._vector_indices[layer.id], image_rect)
        overlay.draw_tool_preview(painter, self)
        overlay.draw_brush_cursor(painter, self)
        draw_scale_bar(painter, self)

    # -- highlight, cursor, previews -----------------------------------------------------------
    def _set_highlight(self, highlight: overlay.Highlight | None) -> None:
        if self._highlight is not None:
            self.update(self.image_rect_to_widget(self._highlight.rect).toAlignedRect().adjusted(-2, -2, 2, 2))
        self._highlight = highlight
        if highlight is not None:
            self.update(self.image_rect_to_widget(highlight.rect).toAlignedRect().adjusted(-2, -2, 2, 2))

    def _update_hover(self, x: int, y: int) -> None:
        layer = self.controller.layer
        if layer is None or not layer.visible or self.controller.busy or x < 0:
            self._set_highlight(None)
            return
        instance_id = int(layer.data[y, x])
        current = self._highlight
        if instance_id == 0:
            self._set_highlight(None)
        elif current is None or current.layer is not layer or current.instance_id != instance_id or not (
                current.rect[0] <= y < current.rect[2] and current.rect[1] <= x < current.rect[3]):
            self._set_highlight(overlay.Highlight(layer, x, y))

    def _move_cursor(self, position: QPointF | None) -> None:
        before = overlay.brush_cursor_bounds(self)
        self.cursor_position = position
        after = overlay.brush_cursor_bounds(self)
        if before.isValid():
            self.update(before)
        if after.isValid():
            self.update(after)
        tool = self.controller.tool
        if isinstance(tool, PolygonTool) and tool.points:  # the edge to the cursor follows it
            self._on_preview_changed()
        pixel = (-1, -1)
        shape = self._image_shape()
        if position is not None and shape is not None:
            point = self.widget_to_image(position)
            x, y = int(math.floor(point.x())), int(math.floor(point.y()))
            if 0 <= x < shape[1] and 0 <= y < shape[0]:
                pixel = (x, y)
        if pixel != self._cursor_pixel:
            self._cursor_pixel = pixel
            self.cursor_moved.emit(*pixel)
            if not self.controller.pressed:
                self._update_hover(*pixel)

    def _on_preview_changed(self) -> None:
        before = self._preview_bounds
        self._preview_bounds = overlay.tool_preview_bounds(self)
        if before.isValid():
            self.update(before)
        if self._preview_bounds.isValid():
            self.update(self._preview_bounds)

    def _on_tool_state_changed(self, name: str, value: Any) -> None:
        if name in ("tool", "brush_radius"):
            self.update()

    # -- Qt events -------------------------------------------------------------------------------
    @staticmethod
    def _modifiers(event: Any) -> Modifiers:
        flags = event.modifiers()
        result = Modifiers.NONE
        if flags & Qt.KeyboardModifier.ShiftModifier:
            result |= Modifiers.SHIFT
        if flags & Qt.KeyboardModifier.ControlModifier:
            result |= Modifiers.CONTROL
        if flags & Qt.KeyboardModifier.AltModifier:
            result |= Modifiers.ALT
        return result

    def mousePressEvent(self, event: Any) -> None:
        position = event.position()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = position
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.LeftButton and self._entry is not None:
            self._set_highlight(None)
            point = self.widget_to_image(position)
            self.controller.press(point.x(), point.y(), self._modifiers(event))
        elif button == Qt.MouseButton.RightButton:
            self.controller.finish_shape()
        event.accept()

    def mouseMoveEvent(self, event: Any) -> None:
        position = event.position()
        if self._pan_from is not None:
            delta = position - self._pan_from
            self._pan_from = position
            self.pan(delta.x(), delta.y())
            return
        self._move_cursor(position)
        if event.buttons() & Qt.MouseButton.LeftButton:
            point = self.widget_to_image(position)
            self.controller.move(point.x(), point.y())

    def mouseReleaseEvent(self, event: Any) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.CrossCursor)
            return
        if event.button() == Qt.MouseButton.LeftButton:
            point = self.widget_to_image(event.position())
            self.controller.release(point.x(), point.y())

    def mouseDoubleClickEvent(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.controller.tool.name == "polygon":
            self.controller.finish_shape()
        else:
            self.mousePressEvent(event)

    def wheelEvent(self, event: Any) -> None:
        steps = event.angleDelta().y() / 120.0
        if not steps:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            for _ in range(int(round(abs(steps))) or 1):
                self.tool_state.grow_brush() if steps > 0 else self.tool_state.shrink_brush()
        else:
            self.set_zoom(self._zoom * 1.25 ** steps, event.position())
        event.accept()

    def keyPressEvent(self, event: Any) -> None:
        key = event.key()
        if key == Qt.Key.Key_BracketRight:
            self.tool_state.grow_brush()
        elif key == Qt.Key.Key_BracketLeft:
            self.tool_state.shrink_brush()
        elif key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = True
                self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif key == Qt.Key.Key_Escape:
            self.controller.cancel()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.controller.finish_shape()
        elif key == Qt.Key.Key_Backspace and isinstance(self.controller.tool, PolygonTool):
            self.controller.tool.remove_last_point()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: Any) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.setCursor(Qt.CursorShape.CrossCursor)
        else:
            super().keyReleaseEvent(event)

    def leaveEvent(self, event: Any) -> None:
        self._move_cursor(None)
        self._set_highlight(None)
        super().leaveEvent(event)

    def resizeEvent(self, event: Any) -> None:
        if self._fitted:
            self.fit_to_window()
        super().resizeEvent(event)
