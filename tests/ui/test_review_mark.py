"""The Review queue's selected cell is framed in yellow on the canvas and follows edits."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF

from seggui.core.instance_edits import delete_instance_command
from test_review_queue import accept_scored, setup  # noqa: F401 - the fixture


def yellow(color) -> bool:
    return color.red() > 200 and color.green() > 160 and color.blue() < 80


def test_selected_cell_is_framed_on_screen_and_follows_the_queue(setup):  # noqa: F811
    window, _, queue = setup
    layer = accept_scored(window, {1: 0.9, 2: 0.1, 3: 0.5})
    layer.set_property("opacity", 0.0)  # only the frame can be yellow
    canvas = window.canvas
    assert canvas.marked_cell is None
    assert queue.next_doubtful() == 2
    assert canvas.marked_cell == (layer, 2)
    shown = canvas.grab().toImage()
    edge = canvas.image_to_widget(QPointF(40.5, 15.5)).toPoint()  # the left edge of cell 2 (x 40..59)
    inside = canvas.image_to_widget(QPointF(50.5, 15.5)).toPoint()
    assert yellow(shown.pixelColor(edge)) and not yellow(shown.pixelColor(inside))
    queue.table.selectRow(1)  # a click in the table moves the frame too
    assert canvas.marked_cell == (layer, 3)
    queue.table.clearSelection()
    assert canvas.marked_cell is None


def test_frame_goes_with_a_deleted_cell_and_with_another_image(setup):  # noqa: F811
    window, _, queue = setup
    layer = accept_scored(window, {1: 0.9, 2: 0.1})
    queue.next_doubtful()
    assert window.canvas.marked_cell == (layer, 2)
    window.document.undo_stack.push(delete_instance_command(layer, 2), execute=True)
    assert window.canvas.marked_cell is None
    window.document.undo_stack.undo()
    queue.refresh()
    queue.select(2)
    assert window.canvas.marked_cell == (layer, 2)
    window.image_list.select_next()
    assert window.canvas.marked_cell is None
    other = window.current_image().label_layers[0]
    assert other is not layer and queue.selected_id() is None  # not cell 2 of the other image


def test_a_cell_that_is_not_there_marks_nothing(setup):  # noqa: F811
    window, _, _ = setup
    layer = accept_scored(window, {})
    window.canvas.mark_cell(layer, 99)
    assert window.canvas.marked_cell is None
    window.canvas.mark_cell(layer, 1)
    assert window.canvas.marked_cell == (layer, 1)
    assert np.any(layer.data == 1)
