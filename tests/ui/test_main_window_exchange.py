"""File > Export / Import annotations from the window: a round trip through COCO."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDialog

from seggui.ui import exchange_dialogs
from seggui.core.project_exchange import apply_dataset, collect_dataset
from seggui.ui.main_window import MainWindow
from test_main_window import dialogs, make_project, paint  # noqa: F401  (fixtures and helpers)


@pytest.fixture
def window(qtbot, dialogs):  # noqa: F811
    window = MainWindow(autosave_delay_ms=150)
    qtbot.addWidget(window)
    window.show()
    return window


def test_export_then_import_round_trip(window, tmp_path, qtbot, monkeypatch, dialogs):  # noqa: F811
    window.files.open_project(make_project(tmp_path))
    paint(window, value=1, rect=(2, 3, 12, 20))
    paint(window, value=2, rect=(20, 30, 30, 40))
    painted = window.current_image().label_layers[0].data.copy()
    out = tmp_path / "export.json"

    def fill_export(dialog):
        dialog.format_box.setCurrentIndex(next(i for i in range(dialog.format_box.count())
                                               if dialog.format_box.itemData(i).key == "coco"))
        dialog.destination.edit.setText(str(out))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(exchange_dialogs.ExportDialog, "exec", fill_export)
    job = exchange_dialogs.run_export(window)
    with qtbot.waitSignal(job.finished, timeout=10000):
        pass
    assert out.is_file(), dialogs.shown
    assert any("Exported 3 image(s)" in text for text in dialogs.shown)

    def fill_import(dialog):
        dialog.source.edit.setText(str(out))
        dialog.images.edit.setText(str(tmp_path / "images"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(exchange_dialogs.ImportDialog, "exec", fill_import)
    job = exchange_dialogs.run_import(window)
    with qtbot.waitSignal(job.finished, timeout=10000):
        pass
    entry = window.current_image()
    imported = [layer for layer in entry.label_layers if layer.name.startswith("imported")]
    assert len(imported) == 1
    # Same instances (ids may be renumbered by the format): compare the partitions.
    assert ((imported[0].data > 0) == (painted > 0)).all()
    assert len(np.unique(imported[0].data)) == 3
    window.document.undo_stack.undo()  # the import is undoable, image by image
    assert window.document.dirty


def test_apply_dataset_skips_images_not_in_project(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    dataset = collect_dataset(window.document, window.document.images[:1])
    dataset.images[0].image_name = "elsewhere.png"
    dataset.images[0].image_path = None
    outcome = apply_dataset(window.project, window.document, dataset)
    assert outcome.layers_added == 0 and outcome.skipped[0][0] == "elsewhere.png"


def test_tool_keys_set_the_tool_state(window, tmp_path):
    window.files.open_project(make_project(tmp_path))
    window.menu_actions.tools["eraser"].trigger()
    assert window.tool_state.tool == "eraser"
    window.tool_state.tool = "fill"
    assert window.menu_actions.tools["fill"].isChecked()
    radius = window.tool_state.brush_radius
    window.menu_actions.grow_brush.trigger()
    assert window.tool_state.brush_radius > radius


def test_progress_dialog_is_gone_when_the_result_box_opens(window, tmp_path, qtbot, monkeypatch, dialogs):  # noqa: F811
    import threading

    from PySide6.QtWidgets import QApplication, QMessageBox

    from seggui.ui.dialogs import JobProgressDialog

    window.files.open_project(make_project(tmp_path))
    paint(window, value=1)
    release = threading.Event()
    real_export = exchange_dialogs.export_annotations

    def held_export(*args, **kwargs):  # the export runs on until the test has seen the progress dialog
        release.wait(20)
        return real_export(*args, **kwargs)

    def progress_dialogs_shown() -> int:
        return sum(1 for w in QApplication.topLevelWidgets() if isinstance(w, JobProgressDialog) and w.isVisible())

    seen: list[int] = []

    def information(parent, title, text, *args, **kwargs):
        seen.append(progress_dialogs_shown())
        dialogs.shown.append(text)

    monkeypatch.setattr(exchange_dialogs, "export_annotations", held_export)
    monkeypatch.setattr(QMessageBox, "information", staticmethod(information))

    def fill_export(dialog):
        dialog.destination.edit.setText(str(tmp_path / "out.json"))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(exchange_dialogs.ExportDialog, "exec", fill_export)
    job = exchange_dialogs.run_export(window)
    try:
        qtbot.waitUntil(lambda: progress_dialogs_shown() == 1, timeout=10_000)  # up after half a second
    finally:
        with qtbot.waitSignal(job.finished, timeout=20_000):
            release.set()
    assert seen == [0], seen  # and closed before "Export finished" opened
