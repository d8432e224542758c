"""The main window: starting, opening a project, switching images, reviewing, closing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from seggui.core.paint import change_command
from seggui.core.project import Project
from seggui.ui.main_window import MainWindow


def write_images(folder: Path, count: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        path = folder / f"cells_{index}.png"
        if index == 1:  # one 16-bit image: values above 255 must survive
            image = rng.integers(0, 4000, (48, 64), dtype=np.uint16)
        else:
            image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        assert cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def make_project(tmp_path: Path, count: int = 3) -> Path:
    images = write_images(tmp_path / "images", count)
    folder = tmp_path / "project"
    project = Project.create(folder)
    from seggui.core.document import Document

    document = Document()
    project.add_images(document, images)
    project.save(document)
    project.close()
    return folder


def paint(window: MainWindow, value: int = 7, rect=(2, 3, 12, 20)) -> None:
    """An undoable edit of the current label layer, as the brush would make it."""
    layer = window.current_image().label_layers[0]
    y0, x0, y1, x1 = rect
    command = change_command(layer, rect, np.full((y1 - y0, x1 - x0), value, layer.data.dtype), "paint")
    window.document.undo_stack.push(command, execute=True)


class Dialogs:
    """Records every message box instead of showing it; answers questions as told."""

    def __init__(self):
        self.shown: list[str] = []
        self.answer = QMessageBox.StandardButton.Save


@pytest.fixture
def dialogs(monkeypatch) -> Dialogs:
    recorder = Dialogs()

    def question(parent, title, text, *args, **kwargs):
        recorder.shown.append(f"question: {text}")
        return recorder.answer

    def exec_box(box):
        recorder.shown.append(f"{box.windowTitle()}: {box.text()}")
        return QMessageBox.StandardButton.Ok

    def no_file_dialog(*args, **kwargs):
        raise AssertionError("a test opened a file dialog")

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda *a, **k: recorder.shown.append(str(a[2]))))
    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    for name in ("getExistingDirectory", "getOpenFileName", "getOpenFileNames", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(no_file_dialog))
    return recorder


@pytest.fixture
def window(qtbot, dialogs):
    window = MainWindow(autosave_delay_ms=100)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.settings.autosave = True


def test_window_starts_empty_with_guidance(window):
    assert window.project is None
    assert window.central.currentWidget() is window.empty_label
    assert "Open a project or images to begin" in window.empty_label.text()
    assert not window.menu_actions.save.isEnabled()
    assert set(window.docks) >= {"Images", "Layers"}


def test_open_project_lists_images_and_shows_first(window, tmp_path):
    folder = make_project(tmp_path)
    assert window.files.open_project(folder)
    assert window.image_list.model.rowCount() == 3
    assert window.current_image() is window.document.images[0]
    assert window.central.currentWidget() is window.canvas
    assert window.current_layer() is window.current_image().label_layers[0]
    assert str(folder.resolve()) == window.settings.recent_projects()[0]
    assert "project" in window.windowTitle()


def test_switching_images_follows_the_list(window, tmp_path, qtbot):
    window.files.open_project(make_project(tmp_path))
    seen = []
    window.current_image_changed.connect(seen.append)
    window.menu_actions.next_image.trigger()
    assert window.current_image() is window.document.images[1]
    window.menu_actions.previous_image.trigger()
    assert window.current_image() is window.document.images[0]
    assert seen == [window.document.images[1], window.document.images[0]]
    assert window.layers_panel.entry is window.document.images[0]


def test_mark_reviewed_updates_list_and_undo_reverts(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    entry = window.current_image()
    window.menu_actions.toggle_reviewed.trigger()
    assert entry.status == "reviewed"
    row = window.document.index_of(entry)
    assert window.image_list.model.index(row, 1).data() == "reviewed"
    assert window.menu_actions.toggle_reviewed.isChecked()
    assert "1 of 3 images reviewed" in window.image_list.summary.text()
    window.menu_actions.next_unreviewed.trigger()
    assert window.current_image() is window.document.images[1]
    assert not window.menu_actions.undo.isEnabled()  # nothing was done on the image now shown
    window.document.undo_stack.undo()
    assert entry.status == "reviewed"  # undo never reaches an image that is not on screen
    window.menu_actions.previous_image.trigger()
    assert window.menu_actions.undo.text() == f"&Undo mark reviewed on {entry.name}"
    window.menu_actions.undo.trigger()
    assert entry.status == "new"
    assert window.image_list.model.index(row, 1).data() == "new"


def test_next_unreviewed_skips_reviewed_images(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    images = window.document.images
    window.document.set_status(images[1], "reviewed")
    window.menu_actions.next_unreviewed.trigger()
    assert window.current_image() is images[2]
    window.image_list.filter_box.setCurrentText("Reviewed")
    assert window.image_list.proxy.rowCount() == 1


def test_next_unreviewed_says_so_when_every_other_image_is_reviewed(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    current = window.current_image()
    for entry in window.document.images:
        if entry is not current:
            window.document.set_status(entry, "reviewed")
    window.menu_actions.next_unreviewed.trigger()
    assert window.current_image() is current
    assert window.status.currentMessage() == "Every other image is reviewed."


def test_status_bar_shows_raw_16_bit_value_and_label(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    window.menu_actions.next_image.trigger()  # the 16-bit image
    entry = window.current_image()
    paint(window, value=7, rect=(0, 0, 5, 5))
    raw = int(entry.image_layer.data[2, 3])
    window.canvas.cursor_moved.emit(3, 2)
    assert window.status.position_label.text() == "x 3, y 2"
    assert f"value {raw}" in window.status.value_label.text() and "uint16" in window.status.value_label.text()
    assert window.status.label_label.text() == "label 7 (cell)"
    window.canvas.cursor_moved.emit(-1, -1)
    assert window.status.position_label.text() == ""


def test_closing_with_unsaved_edits_asks_and_cancel_keeps_window(window, tmp_path, dialogs):
    window.files.open_project(make_project(tmp_path))
    window.menu_actions.autosave.trigger()  # autosave off: closing must ask
    assert not window.autosave.enabled
    paint(window)
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert not window.close()
    assert any(text.startswith("question:") for text in dialogs.shown)
    assert window.document.dirty
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert window.close()


def test_close_save_answer_then_reopen_keeps_every_edit(window, tmp_path, dialogs, qtbot):
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    window.menu_actions.autosave.trigger()  # off, so the question is asked
    paint(window, value=9)
    window.document.set_status(window.current_image(), "reviewed")
    layer = window.current_image().label_layers[0]
    window.document.set_layer_property(layer, "name", "nuclei")
    window.layers_panel.add_label_layer("second")
    dialogs.answer = QMessageBox.StandardButton.Save
    assert window.close()

    reopened = MainWindow(autosave_delay_ms=100)
    qtbot.addWidget(reopened)
    assert reopened.files.open_project(folder)
    entry = reopened.document.images[0]
    assert entry.status == "reviewed"
    assert [layer.name for layer in entry.label_layers] == ["nuclei", "second"]
    assert (entry.label_layers[0].data[2:12, 3:20] == 9).all()
    assert reopened.image_list.model.index(0, 2).data() == "1"  # the instance count
    assert not reopened.document.dirty


def test_closing_with_autosave_saves_without_asking(window, tmp_path, dialogs):
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    paint(window, value=4)
    assert window.close()
    assert not any(text.startswith("question:") for text in dialogs.shown)
    project, document = Project.open(folder)
    assert (document.images[0].label_layers[0].data[2:12, 3:20] == 4).all()
    project.close()


def test_dropping_images_without_project_asks_for_folder(window, tmp_path, monkeypatch, dialogs):
    images = write_images(tmp_path / "dropped", 2)
    project_folder = tmp_path / "new project"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(project_folder)))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in images])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.project is not None and window.project.folder == project_folder.resolve()
    assert len(window.document.images) == 2
    assert window.current_image() is window.document.images[0]


def test_a_refused_project_folder_brings_the_chooser_back(window, tmp_path, monkeypatch, dialogs):
    """Images opened with no project: the person first picks a folder full of other files and
    says No, then an existing project; the chooser comes back each time, and the images land in
    the empty folder they choose last. A first version gave up after the first No, and the
    images asked for were silently not opened."""
    images = write_images(tmp_path / "dropped", 2)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("someone else's files")
    existing = make_project(tmp_path / "other", count=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    offered = [busy, existing, empty]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(offered.pop(0))))
    dialogs.answer = QMessageBox.StandardButton.No
    window.files.open_paths([str(p) for p in images])
    assert offered == []
    assert window.project is not None and window.project.folder == empty.resolve()
    assert len(window.document.images) == 2
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]  # nothing added where refused
    assert any("not empty" in text for text in dialogs.shown)
    assert any("a project already exists here" in text for text in dialogs.shown)


def test_dropping_a_project_folder_opens_it(window, tmp_path):
    folder = make_project(tmp_path, count=2)
    window.files.open_paths([str(folder)])
    assert window.project.folder == folder.resolve()
    assert len(window.document.images) == 2


def test_window_layout_brush_and_opacity_persist(window, tmp_path, qtbot):
    window.files.open_project(make_project(tmp_path))
    window.tool_state.brush_radius = 23
    window.layers_panel.opacity_slider.setValue(70)
    window.resize(1000, 640)
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.tool_state.brush_radius == 23
    assert again.settings.bytes_value("window/state") is not None
    assert again.settings.recent_projects()[0] == str((tmp_path / "project").resolve())
    again.files.open_project(tmp_path / "project")
    assert again.layers_panel.add_label_layer().opacity == pytest.approx(0.7)
    again.document.mark_clean()


def test_shortcuts_dialog_lists_every_action_shortcut(window):
    from seggui.ui.dialogs import SHORTCUTS

    import re

    listed = {token for _, keys, _ in SHORTCUTS for token in re.split(r" or | and ", keys)}
    names = {"PgDown": "Page Down", "PgUp": "Page Up", "Del": "Delete"}
    for action in window.actions():
        for sequence in action.shortcuts():
            text = names.get(sequence.toString(), sequence.toString())
            assert text in listed, f"{action.text()} ({text}) is missing from Help > Shortcuts"


def test_add_dock_adds_view_toggle(window):
    from PySide6.QtWidgets import QLabel

    dock = window.add_dock("Model", QLabel("model"))
    assert window.docks["Model"] is dock
    assert dock.toggleViewAction() in window.menu_actions.view_menu.actions()


def test_only_background_and_new_instance_actions_drive_the_tools(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    actions = window.menu_actions
    actions.only_background.trigger()
    assert window.tool_state.only_background is True
    window.tool_state.only_background = False
    assert not actions.only_background.isChecked()
    layer = window.current_image().label_layers[0]
    paint(window, value=5)
    actions.new_instance.trigger()
    assert window.tool_state.label_id == layer.next_free_id() == 6


def test_a_first_window_fills_most_of_the_screen_centred(qtbot):
    # No saved geometry (settings are per test): nine tenths of the screen's free area, centred.
    from PySide6.QtGui import QGuiApplication

    first = MainWindow()
    qtbot.addWidget(first)
    free = QGuiApplication.primaryScreen().availableGeometry()
    assert first.width() <= free.width() and first.height() <= free.height()
    assert first.width() >= min(free.width(), 1024) and first.height() >= min(free.height(), 640)
    if first.width() < free.width():
        assert abs(first.x() - (free.x() + (free.width() - first.width()) // 2)) <= 1


def test_an_image_that_will_not_load_says_so_on_the_canvas(window, tmp_path):
    """A project is open and one image's file now holds other pixels: the canvas names the image
    and the problem, not "Open a project or images to begin" as if nothing were open."""
    import cv2

    folder = make_project(tmp_path, count=2)
    first = tmp_path / "images" / "cells_0.png"
    replaced = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(first), 255 - replaced)  # same size, different pixels
    window.files.open_project(folder)
    window._show_image(window.document.images[0])
    text = window.empty_label.text()
    assert window.central.currentWidget() is window.empty_label
    assert "cells_0.png cannot be shown" in text and "content changed" in text
    assert "Open a project" not in text
    window._show_image(window.document.images[1])
    assert window.central.currentWidget() is window.canvas
