"""The real canvas widget driven through Qt events (offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from seggui.core.annotation import LabelClass, VectorShape
from seggui.core.document import Document, ImageEntry, ImageSource
from seggui.core.layers import ImageLayer, LabelLayer
from seggui.core.tools import ToolState
from seggui.ui.canvas import Canvas
from seggui.ui.canvas.render import ImageRenderer, LabelPalette, instance_colors, render_labels

HEIGHT, WIDTH = 150, 200


def cells() -> np.ndarray:
    data = np.zeros((HEIGHT, WIDTH), np.uint16)
    data[20:50, 20:50] = 1
    data[20:50, 50:80] = 2
    data[90:130, 120:170] = 3
    return data


@pytest.fixture
def setup(qtbot):
    document = Document()
    entry = ImageEntry(ImageSource(Path("test.png"), HEIGHT, WIDTH))
    image = np.full((HEIGHT, WIDTH), 40, np.uint8)
    layer = LabelLayer(cells())
    layer.opacity = 1.0
    image_layer = ImageLayer(image)
    image_layer.contrast_limits = [(0.0, 255.0)]
    entry.set_layers([image_layer, layer])
    document.add_image(entry)
    state = ToolState(brush_radius=3)
    canvas = Canvas(document, state)
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_image(entry)
    return canvas, document, layer, state


def widget_point(canvas: Canvas, x: float, y: float) -> QPointF:
    return canvas.image_to_widget(QPointF(x, y))


def send_mouse(canvas, kind, x, y, button=Qt.MouseButton.LeftButton, buttons=None,
               modifiers=Qt.KeyboardModifier.NoModifier):
    position = widget_point(canvas, x, y)
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    event = QMouseEvent(kind, position, canvas.mapToGlobal(position), button, buttons, modifiers)
    QApplication.sendEvent(canvas, event)


def click(canvas, x, y, **kwargs):
    send_mouse(canvas, QEvent.Type.MouseButtonPress, x, y, **kwargs)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, x, y, **kwargs)


def drag(canvas, points, button=Qt.MouseButton.LeftButton):
    send_mouse(canvas, QEvent.Type.MouseButtonPress, *points[0], button=button)
    for x, y in points[1:]:
        send_mouse(canvas, QEvent.Type.MouseMove, x, y, button=Qt.MouseButton.NoButton, buttons=button)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, *points[-1], button=button)


def pixel_at(canvas, x, y) -> QColor:
    point = widget_point(canvas, x + 0.5, y + 0.5).toPoint()
    return canvas.grab().toImage().pixelColor(point)


def test_fit_to_window_on_open(setup):
    canvas, document, layer, state = setup
    assert canvas.zoom == pytest.approx(2.0)
    assert canvas.active_layer is layer


def test_brush_stroke_then_undo_bit_for_bit(setup):
    canvas, document, layer, state = setup
    original = layer.data.copy()
    state.label_id = 9
    drag(canvas, [(90, 70), (150, 70), (150, 75)])
    assert (layer.data[70, 90:151] == 9).all()
    assert layer.data[60, 90] == 0
    assert len(document.undo_stack) == 1
    color = pixel_at(canvas, 120, 70)
    expected = instance_colors(np.array([9]))[0]
    assert (color.red(), color.green(), color.blue()) == ((expected >> 16) & 255, (expected >> 8) & 255, expected & 255)
    document.undo_stack.undo()
    assert np.array_equal(layer.data, original)
    assert pixel_at(canvas, 120, 70).red() == 40  # the repaint shows the undo too


def test_fill_delete_merge_pick(setup):
    canvas, document, layer, state = setup
    state.tool, state.label_id = "fill", 7
    click(canvas, 25, 25)
    assert (layer.data[20:50, 20:50] == 7).all()
    state.tool = "delete"
    click(canvas, 130, 100)
    assert not (layer.data == 3).any()
    state.tool = "merge"
    click(canvas, 25, 25)
    click(canvas, 60, 25)
    assert (layer.data[20:50, 20:80] == 7).all()
    state.tool = "pick"
    state.label_id = 1
    click(canvas, 60, 25)
    assert state.label_id == 7
    assert len(document.undo_stack) == 3
    for _ in range(3):
        document.undo_stack.undo()
    assert np.array_equal(layer.data, cells())


def test_polygon_by_clicks_and_double_click(setup, qtbot):
    canvas, document, layer, state = setup
    state.tool, state.label_id = "polygon", 5
    for x, y in [(100, 10), (140, 10), (140, 40)]:
        click(canvas, x, y)
    assert canvas.controller.tool.points
    qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=widget_point(canvas, 100, 40).toPoint())
    assert (layer.data[20, 125:135] == 5).all()
    assert len(document.undo_stack) == 1


def test_polygon_escape_cancels(setup, qtbot):
    canvas, document, layer, state = setup
    state.tool = "polygon"
    click(canvas, 100, 10)
    click(canvas, 140, 10)
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert not canvas.controller.tool.points


def test_erase_region_by_drag(setup):
    canvas, document, layer, state = setup
    state.tool = "erase_region"
    drag(canvas, [(10, 10), (40, 40), (60, 60)])
    assert not layer.data[10:60, 10:60].any()
    assert (layer.data[20:50, 60:80] == 2).all()


def test_locked_layer_is_not_painted(setup):
    canvas, document, layer, state = setup
    layer.locked = True
    drag(canvas, [(90, 70), (150, 70)])
    assert np.array_equal(layer.data, cells())


def test_visibility_and_contour_change_rendering(setup):
    canvas, document, layer, state = setup
    inside = pixel_at(canvas, 35, 35)
    assert inside.red() != 40 or inside.green() != 40
    layer.set_property("visible", False)
    hidden = pixel_at(canvas, 35, 35)
    assert (hidden.red(), hidden.green(), hidden.blue()) == (40, 40, 40)
    layer.set_property("visible", True)
    layer.set_property("contour_only", True)
    assert pixel_at(canvas, 35, 35).red() == 40  # interior is clear in contour mode
    assert pixel_at(canvas, 20, 35) != QColor(40, 40, 40)


def test_color_by_class(setup):
    canvas, document, layer, state = setup
    layer.set_classes([LabelClass(1, "a", (255, 0, 0)), LabelClass(2, "b", (0, 0, 255))])
    layer.set_property("color_by_class", True)
    layer.set_instance_class(2, 2)
    first, second = pixel_at(canvas, 30, 30), pixel_at(canvas, 60, 30)
    assert (first.red(), first.blue()) == (255, 0)
    assert (second.red(), second.blue()) == (0, 255)


def test_wheel_zoom_keeps_point_under_cursor_and_middle_drag_pans(setup):
    canvas, document, layer, state = setup
    position = QPointF(123, 87)
    before = canvas.widget_to_image(position)
    event = QWheelEvent(position, canvas.mapToGlobal(position), QPoint(), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)
    assert canvas.zoom == pytest.approx(2.0 * 1.25 ** 2)
    after = canvas.widget_to_image(position)
    assert (after.x(), after.y()) == pytest.approx((before.x(), before.y()))
    offset = canvas.offset
    drag(canvas, [(50, 50), (60, 55)], button=Qt.MouseButton.MiddleButton)
    moved = canvas.offset - offset
    assert (moved.x(), moved.y()) == pytest.approx((10 * canvas.zoom, 5 * canvas.zoom))
    assert np.array_equal(layer.data, cells())


def test_brush_radius_keys_and_ctrl_wheel(setup, qtbot):
    canvas, document, layer, state = setup
    state.brush_radius = 10
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert state.brush_radius == 12
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert state.brush_radius == pytest.approx(10)
    position = QPointF(100, 100)
    zoom = canvas.zoom
    event = QWheelEvent(position, canvas.mapToGlobal(position), QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)
    assert state.brush_radius == 12 and canvas.zoom == zoom


def test_cursor_moved_signal(setup, qtbot):
    canvas, document, layer, state = setup
    seen = []
    canvas.cursor_moved.connect(lambda x, y: seen.append((x, y)))
    send_mouse(canvas, QEvent.Type.MouseMove, 30.2, 40.7, button=Qt.MouseButton.NoButton)
    send_mouse(canvas, QEvent.Type.MouseMove, -50, -50, button=Qt.MouseButton.NoButton)  # off the image
    assert seen == [(30, 40), (-1, -1)]


def test_zoom_1to1_and_view_changed(setup, qtbot):
    canvas, document, layer, state = setup
    with qtbot.waitSignal(canvas.view_changed, timeout=1000):
        canvas.zoom_1to1()
    assert canvas.zoom == 1.0 and canvas.level == 0


def test_proposal_and_vectors_render(setup):
    canvas, document, layer, state = setup
    layer.set_property("visible", False)
    proposal = np.zeros((HEIGHT, WIDTH), np.uint16)
    proposal[100:140, 20:60] = 1
    canvas.set_proposal(proposal)
    assert pixel_at(canvas, 20, 120) != QColor(40, 40, 40)
    assert pixel_at(canvas, 40, 120) == QColor(40, 40, 40)
    canvas.set_proposal(None)
    assert pixel_at(canvas, 20, 120) == QColor(40, 40, 40)
    layer.vectors.append(VectorShape("line", np.array([[0.0, 75.0], [200.0, 75.0]])))
    layer.set_property("visible", True)
    on_line = widget_point(canvas, 100, 75).toPoint()
    assert canvas.grab().toImage().pixelColor(on_line) != QColor(40, 40, 40)
    with pytest.raises(ValueError):
        canvas.set_proposal(np.zeros((3, 3), np.uint16))


def test_coarse_level_updates_only_the_edited_region(qtbot, monkeypatch):
    from seggui.ui.canvas import view

    painted: list = []  # the rectangle of every repaint

    class RecordingCanvas(Canvas):
        def paintEvent(self, event):
            painted.append(event.rect())
            super().paintEvent(event)

    rendered: list = []  # (level, rect in level pixels) of every label tile rendered
    real_render = view.render_labels

    def recording_render(data, level, rect, *args):
        rendered.append((level, rect))
        return real_render(data, level, rect, *args)

    monkeypatch.setattr(view, "render_labels", recording_render)
    size = 4096
    document = Document()
    entry = ImageEntry(ImageSource(Path("big.tif"), size, size))
    labels = LabelLayer(np.zeros((size, size), np.uint16))
    labels.opacity = 1.0
    entry.set_layers([ImageLayer(np.zeros((size, size), np.uint16)), labels])
    document.add_image(entry)
    state = ToolState(brush_radius=60, label_id=3)
    canvas = RecordingCanvas(document, state)
    qtbot.addWidget(canvas)
    canvas.resize(512, 512)
    canvas.show()
    canvas.set_image(entry)
    assert canvas.level == 3
    canvas.grab()
    # Only the one coarse tile on screen was rendered.
    assert rendered and sum((y1 - y0) * (x1 - x0) for _, (y0, x0, y1, x1) in rendered) <= 512 * 512
    QApplication.processEvents()  # the first full paint after show
    painted.clear()
    drag(canvas, [(2000, 2000), (2100, 2000)])
    QApplication.processEvents()
    assert painted and max(r.width() * r.height() for r in painted) < 100 * 100
    color = pixel_at(canvas, 2050, 2000)
    assert color != QColor(0, 0, 0)


def test_render_helpers():
    layer = LabelLayer(np.array([[0, 1, 1], [0, 1, 2]], np.uint16))
    palette = LabelPalette(layer)
    colors = render_labels(layer.data, 0, (0, 0, 2, 3), palette, contour_only=False)
    assert colors[0, 0] == 0 and colors[0, 1] == colors[1, 1] != colors[1, 2]
    neighbours = instance_colors(np.arange(1, 50))
    assert len(set(neighbours.tolist())) == 49
    image = ImageLayer(np.array([[0, 1000], [2000, 4000]], np.uint16))
    image.contrast_limits = [(0.0, 4000.0)]
    image.gamma = 1.0
    rendered = ImageRenderer(image).render(image.data)
    assert rendered[1, 1] == 0xFFFFFFFF and rendered[0, 0] == 0xFF000000
    floats = ImageLayer(np.random.default_rng(0).random((4, 4, 2)).astype(np.float32))
    floats.colormaps = ["magenta", "viridis"]
    assert ImageRenderer(floats).render(floats.data).shape == (4, 4)
