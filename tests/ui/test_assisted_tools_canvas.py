"""The split and add-cell tools through the real canvas (offscreen): clicks, Enter, image hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from seggui.core.document import Document, ImageEntry, ImageSource
from seggui.core.layers import ImageLayer, LabelLayer
from seggui.core.tools import ToolState
from seggui.ui.canvas import Canvas


HEIGHT, WIDTH = 100, 120


def click(canvas, x, y):
    position = canvas.image_to_widget(QPointF(x, y))
    for kind, buttons in ((QEvent.Type.MouseButtonPress, Qt.MouseButton.LeftButton),
                          (QEvent.Type.MouseButtonRelease, Qt.MouseButton.NoButton)):
        QApplication.sendEvent(canvas, QMouseEvent(kind, position, canvas.mapToGlobal(position),
                                                   Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier))


def make_canvas(qtbot, labels, image):
    document = Document()
    entry = ImageEntry(ImageSource(Path("test.png"), HEIGHT, WIDTH))
    layer = LabelLayer(labels)
    entry.set_layers([ImageLayer(image), layer])
    document.add_image(entry)
    state = ToolState()
    canvas = Canvas(document, state)
    qtbot.addWidget(canvas)
    canvas.resize(480, 400)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_image(entry)
    return canvas, document, layer, state


def test_add_cell_reads_the_shown_image_and_split_finishes_on_enter(qtbot):
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    image = np.full((HEIGHT, WIDTH), 20, np.uint8)
    image[(yy - 70) ** 2 + (xx - 90) ** 2 <= 8 ** 2] = 200
    labels = np.zeros((HEIGHT, WIDTH), np.uint16)
    labels[((yy - 30) ** 2 + (xx - 30) ** 2 <= 12 ** 2) | ((yy - 30) ** 2 + (xx - 60) ** 2 <= 12 ** 2)] = 1
    canvas, document, layer, state = make_canvas(qtbot, labels, image)
    assert canvas.controller.current_image() is image

    state.tool = "add_cell"
    click(canvas, 90.5, 70.5)
    assert int(layer.data[70, 90]) == 2 and len(document.undo_stack) == 1

    state.tool = "split"
    click(canvas, 30.5, 30.5)
    click(canvas, 60.5, 30.5)
    assert len(document.undo_stack) == 1  # waiting for Enter
    QApplication.sendEvent(canvas, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier))
    assert len(document.undo_stack) == 2
    assert int(layer.data[30, 30]) == 1 and int(layer.data[30, 60]) == 3


def test_split_along_a_dragged_line_is_previewed_and_one_step(qtbot):
    labels = np.zeros((HEIGHT, WIDTH), np.uint16)
    labels[20:80, 20:100] = 1
    canvas, document, layer, state = make_canvas(qtbot, labels, np.full((HEIGHT, WIDTH), 50, np.uint8))
    state.tool = "split"

    def send(kind, x, y, buttons):
        position = canvas.image_to_widget(QPointF(x, y))
        QApplication.sendEvent(canvas, QMouseEvent(kind, position, canvas.mapToGlobal(position),
                                                   Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier))

    send(QEvent.Type.MouseButtonPress, 60.5, 10.5, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseMove, 60.5, 50.5, Qt.MouseButton.LeftButton)
    assert canvas.controller.tool.line is not None
    canvas.grab()  # the line's preview paints without error
    send(QEvent.Type.MouseButtonRelease, 60.5, 90.5, Qt.MouseButton.NoButton)
    assert len(document.undo_stack) == 1 and len(set(np.unique(layer.data)) - {0}) == 2
    assert "line" in document.undo_stack.undo_text
