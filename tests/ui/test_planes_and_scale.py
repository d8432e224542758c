"""Multi-page files in the window: the plane dialog (choices made programmatically), the
position in µm in the status bar, and the scale bar on the canvas."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from seggui.core.project import Project
from seggui.ui import page_dialog
from seggui.ui.canvas.scale_bar import format_length, scale_bar
from seggui.ui.main_window import MainWindow
from seggui.ui.status_bar import format_position

tifffile = pytest.importorskip("tifffile")


@pytest.fixture
def stack(tmp_path):
    """3 T x 4 Z planes of 40x60, 0.5 µm pixels; each plane holds its page number."""
    data = np.arange(12, dtype=np.uint16).reshape(3, 4, 1, 1) * np.ones((1, 1, 40, 60), np.uint16)
    path = tmp_path / "stack.ome.tif"
    tifffile.imwrite(path, data, metadata={"axes": "TZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    return path


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    def no_dialog(*args, **kwargs):
        raise AssertionError("a test opened a file dialog")

    for name in ("getExistingDirectory", "getOpenFileNames"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(no_dialog))
    errors = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: errors.append(box.text()) or QMessageBox.StandardButton.Ok)
    window = MainWindow(autosave_delay_ms=100)
    window.errors = errors
    qtbot.addWidget(window)
    window.show()
    Project.create(tmp_path / "project").close()
    assert window.files.open_project(tmp_path / "project")
    yield window
    window.settings.autosave = True


def answer_with(monkeypatch, choose):
    """Make the plane dialog answer as `choose(dialog)` says, instead of waiting for a person."""
    seen = []

    def exec_(dialog):
        seen.append(dialog)
        return choose(dialog)

    monkeypatch.setattr(page_dialog.PageChoiceDialog, "exec", exec_)
    return seen


def test_dialog_lists_planes_and_returns_the_choice(qtbot, stack):
    from seggui.core.imageio import describe_pages

    dialog = page_dialog.PageChoiceDialog({stack: describe_pages(stack)})
    qtbot.addWidget(dialog)
    section = dialog.sections[stack]
    assert section.list.count() == 12
    assert section.list.item(5).text() == "t 2, z 2 \u2014 60 \u00d7 40, uint16"
    assert dialog.pages() == {stack: [0]}  # first plane only is the default
    dialog.set_choice(stack, page_dialog.ALL)
    assert dialog.pages() == {stack: "all"}
    dialog.set_choice(stack, page_dialog.CHOSEN, [3, 7])
    assert section.chosen.isChecked() and dialog.pages() == {stack: [3, 7]}


def test_adding_a_stack_asks_and_adds_each_chosen_plane(window, stack, monkeypatch):
    def choose(dialog):
        dialog.set_choice(stack, page_dialog.CHOSEN, [1, 6])
        return QDialog.DialogCode.Accepted

    seen = answer_with(monkeypatch, choose)
    assert window.files.add_images([stack]) == 2
    assert len(seen) == 1
    assert [(e.name, e.source.page) for e in window.document.images] == [
        ("stack.ome.tif [t 1, z 2]", 1), ("stack.ome.tif [t 2, z 3]", 6)]
    assert int(window.document.images[1].image_layer.data[0, 0]) == 6


def test_cancelling_the_dialog_adds_nothing(window, stack, monkeypatch):
    answer_with(monkeypatch, lambda dialog: QDialog.DialogCode.Rejected)
    assert window.files.add_images([stack]) == 0
    assert window.document.images == []


def test_all_planes_and_single_page_files_without_asking(window, stack, tmp_path, monkeypatch):
    import cv2

    single = tmp_path / "one.png"
    cv2.imwrite(str(single), np.zeros((8, 8), np.uint8))
    answer_with(monkeypatch, lambda dialog: dialog.set_choice(stack, page_dialog.ALL) or QDialog.DialogCode.Accepted)
    assert window.files.add_images([stack, single]) == 13
    assert window.document.images[-1].name == "one.png"
    answer_with(monkeypatch, lambda dialog: pytest.fail("a single image needs no question"))
    tifffile.imwrite(tmp_path / "flat.tif", np.zeros((8, 9), np.uint8))
    assert window.files.add_images([tmp_path / "flat.tif"]) == 1


def test_position_in_micrometres_and_scale_bar(window, stack, monkeypatch, qtbot):
    answer_with(monkeypatch, lambda dialog: QDialog.DialogCode.Accepted)
    assert window.files.add_images([stack]) == 1
    entry = window.current_image()
    assert entry.image_layer.pixel_size_um == (0.5, 0.5)
    window.status.show_cursor(entry, None, 10, 4)
    assert window.status.position_label.text() == "x 10, y 4  (5 µm, 2 µm)"
    canvas = window.canvas
    length, pixels, text = scale_bar(0.5, canvas.zoom)
    assert text == format_length(length) and pixels <= 110
    image = canvas.grab().toImage()
    corner = image.pixelColor(12 + 6 + 1, canvas.height() - 12 - 6 - 2)  # inside the white bar
    assert (corner.red(), corner.green(), corner.blue()) == (255, 255, 255)


def test_no_scale_bar_without_pixel_size(window, tmp_path, monkeypatch):
    import cv2

    path = tmp_path / "plain.png"
    cv2.imwrite(str(path), np.zeros((40, 60), np.uint8))
    assert window.files.add_images([path]) == 1
    entry = window.current_image()
    assert entry.image_layer.pixel_size_um is None
    window.status.show_cursor(entry, None, 10, 4)
    assert window.status.position_label.text() == "x 10, y 4"
    image = window.canvas.grab().toImage()
    corner = image.pixelColor(12 + 6 + 1, window.canvas.height() - 12 - 6 - 2)
    assert corner.red() < 100


@pytest.mark.parametrize("pixel, zoom, expected", [
    (1.0, 1.0, (100.0, "100 µm")), (0.5, 1.0, (50.0, "50 µm")), (0.1, 4.0, (2.0, "2 µm")),
    (0.01, 8.0, (0.1, "100 nm")), (2.0, 0.1, (2000.0, "2 mm")), (0.3, 1.0, (20.0, "20 µm")),
])
def test_scale_bar_lengths_are_round(pixel, zoom, expected):
    length, pixels, text = scale_bar(pixel, zoom)
    assert (length, text) == expected
    assert 110 / 2.5 - 1e-6 <= pixels <= 110 + 1e-6


def test_format_position():
    assert format_position(3, 4) == "x 3, y 4"
    assert format_position(3, 4, (0.25, 0.5)) == "x 3, y 4  (0.75 µm, 2 µm)"
