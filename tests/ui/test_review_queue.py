"""Scores kept with accepted proposals and the Review queue dock, in a real main window."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from seggui.core.project import Project
from seggui.ui.main_window import MainWindow
from seggui.ui.model_docks import install_model_docks
from seggui.core.proposals import FILL_EMPTY, REPLACE, accept_proposal, merged_info
from test_model_panel import make_project  # the same test images as the Model panel's


@pytest.fixture
def setup(qtbot, tmp_path):
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.files.open_project(make_project(tmp_path, count=2))
    panel, _ = install_model_docks(window)
    window.resize(1000, 700)
    window.show()
    yield window, panel, window.review_queue
    if window.document is not None:
        window.document.mark_clean()  # no save prompt on close


def three_cells(shape=(64, 80)) -> np.ndarray:
    labels = np.zeros(shape, np.uint16)
    labels[5:15, 5:15] = 1
    labels[5:25, 40:60] = 2
    labels[40:50, 30:40] = 3
    return labels


def test_accepting_a_classic_proposal_stores_a_score_per_cell_and_undo_removes_them(setup, qtbot):
    window, panel, _ = setup
    combo = panel.model_combo
    combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemText(i).split()[0] == "classic"))
    layer = window.current_image().label_layers[0]
    qtbot.mouseClick(panel.predict_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(panel.accept_button.isEnabled, timeout=20_000)  # a proposal, and no job running
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(REPLACE))
    steps = len(window.document.undo_stack)
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    ids = sorted(int(i) for i in np.unique(layer.data) if i)
    assert len(ids) == 3 and len(window.document.undo_stack) == steps + 1
    assert sorted(layer.instance_info) == ids
    assert all(0.0 <= layer.instance_info[i]["score"] <= 1.0 for i in ids)
    window.document.undo_stack.undo()
    assert layer.instance_info == {} and not layer.data.any()
    window.document.undo_stack.redo()
    assert sorted(layer.instance_info) == ids


def test_fill_empty_offsets_the_score_ids_and_keeps_old_info():
    existing = np.zeros((10, 10), np.uint16)
    existing[0:3, 0:3] = 4
    proposal = np.zeros((10, 10), np.uint16)
    proposal[0:2, 0:2] = 1  # fully under cell 4: never enters the layer
    proposal[5:8, 5:8] = 2
    info = merged_info(existing, {4: {"verified": True}}, proposal, FILL_EMPTY, {1: 0.2, 2: 0.7})
    assert info == {4: {"verified": True}, 6: {"score": 0.7}}
    assert merged_info(existing, {4: {"verified": True}}, proposal, REPLACE, {1: 0.2, 2: 0.7}) == \
        {1: {"score": 0.2}, 2: {"score": 0.7}}


def accept_scored(window, scores):
    entry = window.current_image()
    accept_proposal(window.document, entry, three_cells(), REPLACE, "test", entry.label_layers[0], scores=scores)
    window.review_queue.refresh()
    return entry.label_layers[0]


def test_queue_orders_cells_by_score_unscored_last(setup):
    window, _, queue = setup
    accept_scored(window, {1: 0.9, 2: 0.1})
    rows = queue.rows()
    assert [row[0] for row in rows] == [2, 1, 3]
    assert rows[0][1:] == (0.1, 400, False) and rows[2][1] is None
    assert queue.table.item(0, 0).text() == "2" and queue.table.item(2, 1).text() == "—"


def test_next_doubtful_selects_and_centres_the_cell(setup):
    window, _, queue = setup
    accept_scored(window, {1: 0.9, 2: 0.1, 3: 0.5})
    canvas = window.canvas
    assert queue.next_doubtful() == 2
    assert queue.selected_id() == 2
    centre = canvas.widget_to_image(QPointF(canvas.width() / 2, canvas.height() / 2))
    assert abs(centre.x() - 50) < 1 and abs(centre.y() - 15) < 1
    assert canvas.zoom > min(canvas.width() / 80, canvas.height() / 64)  # zoomed in past fit
    assert queue.next_doubtful() == 3 and queue.next_doubtful() == 1
    assert queue.next_doubtful() == 2  # wraps around


def test_verify_is_undoable_skipped_by_next_and_survives_save_and_reopen(setup, tmp_path):
    window, _, queue = setup
    layer = accept_scored(window, {1: 0.9, 2: 0.1, 3: 0.5})
    entry = window.current_image()
    queue.next_doubtful()
    queue.verify_action.trigger()
    assert layer.instance_info[2] == {"score": 0.1, "verified": True}
    assert queue.rows()[0] == (2, 0.1, 400, True) and queue.table.item(0, 3).text() == "✓"
    window.document.undo_stack.undo()
    assert "verified" not in layer.instance_info[2]
    window.document.undo_stack.redo()
    queue.refresh()  # the dock follows undo/redo (on a short timer)
    assert queue.rows()[0][3]
    queue.table.clearSelection()
    assert queue.next_doubtful() == 3  # verified cells are passed over
    window.project.save(window.document)
    folder = window.project.folder
    window.document.mark_clean()
    project, document = Project.open(folder, read_only=True)
    try:
        reopened = document.image_by_id(entry.id).label_layers[0]
        assert reopened.instance_info[2] == {"score": 0.1, "verified": True}
        assert reopened.instance_info[3] == {"score": 0.5}
    finally:
        project.close()


def test_delete_removes_the_cell_in_one_undo_step(setup, qtbot):
    window, _, queue = setup
    layer = accept_scored(window, {1: 0.9, 2: 0.1, 3: 0.5})
    entry = window.current_image()
    queue.next_doubtful()
    steps = len(window.document.undo_stack)
    before = layer.data.copy()
    queue.delete_action.trigger()
    assert not (layer.data == 2).any() and len(window.document.undo_stack) == steps + 1
    assert entry.status == "edited"
    assert [row[0] for row in queue.rows()] == [3, 1] and queue.selected_id() == 3
    window.document.undo_stack.undo()
    assert np.array_equal(layer.data, before) and entry.status == "predicted"
    qtbot.waitUntil(lambda: [row[0] for row in queue.rows()] == [2, 3, 1], timeout=2000)


def test_queue_follows_the_image_on_screen(setup):
    window, _, queue = setup
    accept_scored(window, {1: 0.9})
    assert len(queue.rows()) == 3
    window.image_list.select_next(1)
    assert window.current_image() is window.document.images[1]
    assert queue.rows() == [] and queue.next_doubtful() is None


def test_colour_outlines_by_confidence_paints_doubtful_cells_red(setup):
    from seggui.ui.canvas.render import UNSCORED_COLOR, confidence_colors

    window, _, queue = setup
    layer = accept_scored(window, {1: 0.9, 2: 0.1})
    layer.set_property("opacity", 1.0)  # the canvas shows the cells' own colours
    assert queue.confidence_colours in window.menu_actions.view_menu.actions()
    queue.confidence_colours.setChecked(True)
    assert window.canvas.color_by_confidence
    canvas = window.canvas
    shown = canvas.grab().toImage()

    def colour(x, y):  # on screen, inside the cell at image pixel (x, y)
        return shown.pixelColor(canvas.image_to_widget(QPointF(x + 0.5, y + 0.5)).toPoint())

    doubtful, confident, unscored = colour(50, 15), colour(10, 10), colour(35, 45)  # cells 2 (0.1), 1 (0.9), 3
    assert doubtful.red() > confident.red() and confident.green() > doubtful.green()
    assert (unscored.red(), unscored.green(), unscored.blue()) == UNSCORED_COLOR  # no score: blue
    assert list(confidence_colors(np.array([0, 5]), {}) & 0xFFFFFF) == [0x5AA0FF, 0x5AA0FF]
    queue.confidence_colours.setChecked(False)
    assert not window.canvas.color_by_confidence


def test_next_doubtful_goes_on_to_the_most_doubtful_image(setup):
    window, _, queue = setup
    first, second = window.document.images
    accept_scored(window, {1: 0.9, 2: 0.95, 3: 0.99})  # the image on screen: little doubt
    window.image_list.set_current_image(second)
    accept_scored(window, {1: 0.1, 2: 0.2, 3: 0.3})
    window.image_list.set_current_image(first)
    queue.across_images.setChecked(True)
    assert [queue.next_doubtful() for _ in range(3)] == [1, 2, 3]
    assert queue.next_doubtful() == 1 and window.current_image() is second  # on to the other image
    queue.toggle_verified()
    assert queue.next_doubtful() == 2
    window.document.set_status(first, "reviewed")
    assert [queue.next_doubtful() for _ in range(2)] == [3, None]  # the reviewed image is done
    assert "No doubtful cell left" in queue.summary.text()
