"""The image list follows edits (Cells column) and removes images from a project, undoably."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox

from seggui.core.project import Project
from seggui.ui.remove_images import confirmation_text

from test_main_window import dialogs, make_project, paint, window  # noqa: F401 - fixtures (tests/ui is on sys.path)


def cells_text(window, entry) -> str:
    model = window.image_list.model
    return model.data(model.index(window.document.index_of(entry), 2), Qt.ItemDataRole.DisplayRole)


def test_cells_column_follows_strokes_undo_and_redo_before_any_save(window, tmp_path, qtbot):
    window.files.set_autosave(False)
    window.files.open_project(make_project(tmp_path))
    entry = window.current_image()
    assert cells_text(window, entry) == ""
    paint(window, 7, (2, 3, 12, 20))
    paint(window, 8, (30, 30, 40, 40))
    qtbot.waitUntil(lambda: cells_text(window, entry) == "2", timeout=2000)
    assert window.document.dirty  # counted without a save
    window.menu_actions.undo.trigger()
    qtbot.waitUntil(lambda: cells_text(window, entry) == "1", timeout=2000)
    window.menu_actions.redo.trigger()
    qtbot.waitUntil(lambda: cells_text(window, entry) == "2", timeout=2000)


def test_recount_is_debounced_and_only_for_the_edited_image(window, tmp_path, qtbot, monkeypatch):
    window.files.set_autosave(False)
    window.files.open_project(make_project(tmp_path))
    counted = []
    import seggui.core.entry_counts as entry_counts

    real = entry_counts.count_instances
    monkeypatch.setattr(entry_counts, "count_instances", lambda labels: counted.append(1) or real(labels))
    for value in range(1, 6):
        paint(window, value, (value * 5, 0, value * 5 + 4, 10))
    assert counted == []  # nothing yet: the edits have not paused
    qtbot.waitUntil(lambda: cells_text(window, window.current_image()) == "5", timeout=2000)
    assert len(counted) == 1


def select(window, entries) -> None:
    view, proxy, model = window.image_list.view, window.image_list.proxy, window.image_list.model
    view.selectionModel().clearSelection()
    for entry in entries:
        index = proxy.mapFromSource(model.index(window.document.index_of(entry), 0))
        view.selectionModel().select(index, QItemSelectionModel.SelectionFlag.Select
                                     | QItemSelectionModel.SelectionFlag.Rows)


def test_remove_asks_names_counts_and_undo_restores_with_layers(window, dialogs, tmp_path, qtbot):
    window.files.set_autosave(False)
    folder = make_project(tmp_path, count=4)
    window.files.open_project(folder)
    images = list(window.document.images)
    paint(window, 7, (2, 3, 12, 20))
    paint(window, 9, (30, 30, 40, 40))
    first_labels = images[0].label_layers[0].data.copy()
    files = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert window.menu_actions.remove_images in window.image_list.view.actions()  # the context menu

    select(window, images[:2])
    dialogs.answer = QMessageBox.StandardButton.Cancel
    window.menu_actions.remove_images.trigger()
    assert "2 images" in dialogs.shown[-1] and "2 labelled cells" in dialogs.shown[-1]
    assert len(window.document.images) == 4  # cancelled

    dialogs.answer = QMessageBox.StandardButton.Yes
    select(window, images[:2])
    window.menu_actions.remove_images.trigger()
    assert window.document.images == images[2:]
    assert window.current_image() is images[2]
    assert window.image_list.model.rowCount() == 2
    window.files.save()
    reopened, document = Project.open(folder, read_only=True)  # rows gone, files untouched
    assert len(document.images) == 2
    reopened.close()
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == files

    assert "remove 2 images" in window.menu_actions.undo.text()
    window.menu_actions.undo.trigger()  # the project step, though another image is on screen
    assert window.document.images == images
    assert np.array_equal(images[0].label_layers[0].data, first_labels)
    window.image_list.set_current_image(images[0])
    window.menu_actions.undo.trigger()  # the image's own history came back with it
    assert images[0].label_layers[0].data.max() == 7
    window.menu_actions.redo.trigger()
    window.files.save()
    reopened, document = Project.open(folder, read_only=True)  # saved again, masks written again
    assert len(document.images) == 4
    assert np.array_equal(document.image_by_id(images[0].id).label_layers[0].data, first_labels)
    reopened.close()


def test_confirmation_for_one_image_names_it(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    entry = window.current_image()
    text = confirmation_text([entry])
    assert entry.name in text and "no labelled cells" in text and "not deleted" in text


def test_most_doubtful_first_orders_the_list_and_n(window, tmp_path, qtbot):
    from seggui.ui.image_list import ORDERS

    window.files.set_autosave(False)
    window.files.open_project(make_project(tmp_path))
    first, second, third = window.document.images
    for item, score in ((first, 0.9), (second, 0.1), (third, 0.5)):
        layer = item.label_layers[0]
        layer.data[1:4, 1:4] = 1
        layer.instance_info[1] = {"score": score}
    window.image_list.model.refresh_all()
    panel = window.image_list
    assert panel.model.data(panel.model.index(1, 3), Qt.ItemDataRole.DisplayRole) == "0.9"
    panel.order_box.setCurrentText(ORDERS[1])
    shown = [panel.proxy.index(row, 0).data(Qt.ItemDataRole.DisplayRole) for row in range(3)]
    assert shown == [second.name, third.name, first.name]
    window.image_list.set_current_image(second)
    window.menu_actions.next_unreviewed.trigger()
    assert window.current_image() is third
    window.menu_actions.next_unreviewed.trigger()
    assert window.current_image() is first
    panel.order_box.setCurrentText(ORDERS[0])
    shown = [panel.proxy.index(row, 0).data(Qt.ItemDataRole.DisplayRole) for row in range(3)]
    assert shown == [first.name, second.name, third.name]


def test_an_image_the_model_found_empty_shows_zero_cells_a_new_one_nothing(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    first, second = window.document.images[:2]
    assert cells_text(window, first) == ""  # new: not counted yet
    window.document.set_status(second, "predicted")
    assert second.instance_count == 0
    assert cells_text(window, second) == "0"
