"""The whole product loop in the real main window, offscreen, on the bundled sample project.

import (LabelMe folder, CVAT XML) -> pre-segment with the bundled model -> accept -> brush and
eraser strokes through real mouse events -> undo/redo by keyboard -> mark reviewed ->
fine-tune in a real child process from the Training dock -> make the version active ->
pre-segment a new image with it -> export COCO and PNG masks and read them back.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from seggui.app import create_main_window
from seggui.core import records
from seggui.formats import import_annotations
from seggui.sample_project import build_sample_project
from seggui.ui import exchange_dialogs

pytestmark = pytest.mark.slow

TRAIN_TIMEOUT_MS = 240_000
PREDICT_TIMEOUT_MS = 120_000


# -- helpers -------------------------------------------------------------------------------
def send_mouse(canvas, kind, x, y, button=Qt.MouseButton.LeftButton, buttons=None):
    position = canvas.image_to_widget(QPointF(x, y))
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    event = QMouseEvent(kind, position, canvas.mapToGlobal(position), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, event)


def drag(canvas, points):
    """A left-button stroke through image points (x, y), as the user would draw it."""
    send_mouse(canvas, QEvent.Type.MouseButtonPress, *points[0])
    for x, y in points[1:]:
        send_mouse(canvas, QEvent.Type.MouseMove, x, y, button=Qt.MouseButton.NoButton,
                   buttons=Qt.MouseButton.LeftButton)
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, *points[-1])


def entry_named(window, name):
    matches = [e for e in window.document.images if e.source.path.name == name]
    assert len(matches) == 1, [e.source.path.name for e in window.document.images]
    return matches[0]


def show_image(window, qtbot, entry):
    window.image_list.set_current_image(entry)
    qtbot.waitUntil(lambda: window.current_image() is entry and window.canvas.entry is entry)


def select_model(panel, name):
    index = next(i for i, m in enumerate(panel.models) if m.name == name)
    panel.model_combo.setCurrentIndex(index)
    assert panel.selected_model().name == name and panel.selected_model().available


def presegment_and_accept(window, qtbot):
    """Click "Pre-segment this image", wait for the proposal, click Accept; returns the proposal."""
    panel = window.model_panel
    assert panel.predict_button.isEnabled()
    qtbot.mouseClick(panel.predict_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=PREDICT_TIMEOUT_MS)
    assert panel.proposal is not None, panel.progress_label.text()
    proposal = panel.proposal.labels.copy()
    assert proposal.shape == window.current_image().image_layer.shape[:2]
    assert "proposed by" in panel.proposal_label.text()
    assert panel.accept_button.isEnabled()
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    assert panel.proposal is None
    return proposal


def merged_layers(entry) -> np.ndarray:
    """Every label layer of the image, later layers on top, each layer's cells kept apart."""
    merged = np.zeros(entry.label_layers[0].shape, np.int64)
    offset = 0
    for layer in entry.label_layers:
        data = layer.data.astype(np.int64)
        merged[data > 0] = data[data > 0] + offset
        offset += int(data.max(initial=0))
    return merged


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Same instances (ids may be renumbered): a one-to-one map between the ids, background kept."""
    if a.shape != b.shape or not np.array_equal(a > 0, b > 0):
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


def run_dialog_job(qtbot, monkeypatch, dialog_class, runner, window, fill, timeout=60_000):
    """Run File > Import/Export as the menu does, with the form filled by `fill` instead of a user."""
    def exec_(dialog):
        fill(dialog)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(dialog_class, "exec", exec_)
    job = runner(window)
    assert job is not None
    with qtbot.waitSignal(job.finished, timeout=timeout):
        pass
    return job


def choose_format(box, key):
    index = next(i for i in range(box.count())
                 if box.itemData(i) == key or getattr(box.itemData(i), "key", None) == key)
    box.setCurrentIndex(index)


# -- the loop --------------------------------------------------------------------------------
def test_full_loop_on_the_sample_project(qtbot, tmp_path, monkeypatch):
    started = time.monotonic()
    messages: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text, *a, **k: messages.append(text))
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a, **k: messages.append(text))
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: messages.append(text))

    demo = tmp_path / "demo"
    project_folder = build_sample_project(demo)
    window = create_main_window()
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitExposed(window)
    assert window.files.open_project(project_folder)
    document = window.document
    assert len(document.images) == 7
    panel, dock = window.model_panel, window.training_dock

    # 1. Import a LabelMe folder and a CVAT XML through File > Import's job and apply_dataset.
    for key, source in (("labelme", demo / "annotations" / "labelme"), ("cvat", demo / "annotations" / "cvat.xml")):
        expected = import_annotations(source, format=key, images_dir=demo / "images")
        assert expected.images
        layers_before = {e.id: len(e.label_layers) for e in document.images}

        def fill_import(dialog, key=key, source=source):
            dialog.source.edit.setText(str(source))
            choose_format(dialog.format_box, key)
            dialog.images.edit.setText(str(demo / "images"))

        run_dialog_job(qtbot, monkeypatch, exchange_dialogs.ImportDialog, exchange_dialogs.run_import,
                       window, fill_import)
        assert any(f"{len(expected.images)} label layer(s) imported" in m for m in messages), messages
        for annotation in expected.images:
            entry = entry_named(window, Path(annotation.image_name).name)
            assert len(entry.label_layers) == layers_before[entry.id] + 1
            layer = entry.label_layers[-1]
            assert layer.name == f"imported {key}"
            assert np.array_equal(layer.data, annotation.labels), (key, annotation.image_name)
            assert len(layer.instance_ids()) == len(np.unique(annotation.labels)) - 1 > 0
        untouched = [e for e in document.images
                     if Path(e.source.path).name not in {Path(a.image_name).name for a in expected.images}]
        assert all(len(e.label_layers) == layers_before[e.id] for e in untouched)

    # 2. Pre-segment a new image with the bundled model; accept the proposal.
    first = entry_named(window, "nuclei-6bd18a.png")
    assert first.status == "new"
    show_image(window, qtbot, first)
    select_model(panel, "nuclei")
    layer = window.current_layer()
    assert layer is first.label_layers[0]
    before_accept = layer.data.copy()
    proposal = presegment_and_accept(window, qtbot)
    assert len(np.unique(proposal)) - 1 >= 5  # the bundled model finds nuclei here
    assert np.array_equal(layer.data, proposal) and not np.array_equal(layer.data, before_accept)
    assert first.status == "predicted" and first.status_model == "nuclei"
    accepted = layer.data.copy()

    # 3. Correct it: a brush stroke (new cell in empty background) and an eraser stroke, by mouse.
    canvas = window.canvas
    height, width = layer.shape
    background = np.argwhere(np.lib.stride_tricks.sliding_window_view(accepted == 0, (13, 31)).all(axis=(2, 3)))
    assert len(background), "no empty 13x31 patch to paint in"
    by, bx = background[len(background) // 2]
    y_stroke, x0, x1 = int(by) + 6, int(bx) + 6, int(bx) + 24
    new_id = int(accepted.max()) + 1
    window.tool_state.tool = "brush"
    window.tool_state.brush_radius = 3
    window.tool_state.label_id = new_id
    steps = len(document.undo_stack)
    drag(canvas, [(x0 + 0.5, y_stroke + 0.5), ((x0 + x1) / 2 + 0.5, y_stroke + 0.5), (x1 + 0.5, y_stroke + 0.5)])
    after_brush = layer.data.copy()
    assert (after_brush[y_stroke, x0:x1 + 1] == new_id).all()
    changed = after_brush != accepted
    assert changed.any() and (after_brush[changed] == new_id).all()
    assert len(document.undo_stack) == steps + 1

    # Erase across the largest proposed nucleus.
    ids, counts = np.unique(accepted[accepted > 0], return_counts=True)
    victim = int(ids[np.argmax(counts)])
    ys, xs = np.nonzero(accepted == victim)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    row = np.nonzero(accepted[cy] == victim)[0]
    window.tool_state.tool = "eraser"
    drag(canvas, [(int(row.min()) + 0.5, cy + 0.5), (int(row.max()) + 0.5, cy + 0.5)])
    after_eraser = layer.data.copy()
    assert (after_eraser[cy, row.min():row.max() + 1] == 0).all()
    assert (after_eraser[after_eraser != after_brush] == 0).all()
    assert (after_eraser == victim).sum() < (after_brush == victim).sum()
    assert len(document.undo_stack) == steps + 2

    # Undo both strokes and redo them with the keyboard, bit for bit.
    window.activateWindow()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(layer.data, after_brush)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(layer.data, accepted)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(layer.data, after_brush)
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(layer.data, after_eraser)
    assert first.status == "edited" and first.status_model == "nuclei"  # a person corrected the proposal

    # 4. Mark it reviewed with the real action (R / Image > Mark reviewed).
    reviewed_before = dock.reviewed_count()
    window.menu_actions.toggle_reviewed.trigger()
    assert first.status == "reviewed" and window.menu_actions.toggle_reviewed.isChecked()
    assert dock.reviewed_count() == reviewed_before + 1

    # 5. Fine-tune from the Training dock for a tiny budget, in a real child process.
    assert dock.start_button.isEnabled(), dock.images_label.text()
    assert dock.base_combo.currentData() == "nuclei"
    dock.minutes_spin.setValue(0.1)
    dock.crop_spin.setValue(128)
    dock.device_combo.setCurrentText("cpu")
    epochs = []
    with qtbot.waitSignal(dock.job_finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        qtbot.mouseClick(dock.start_button, Qt.MouseButton.LeftButton)
        assert dock.is_running and not document.dirty  # saved first: the child reads the disk
        dock.process.event.connect(lambda event: epochs.append(event) if event.get("event") == "epoch" else None)
    assert finished.args[0] == "done", finished.args[1] + "\n" + dock.log_view.toPlainText()[-2000:]
    assert epochs and dock.plot.epochs
    versions = records.model_versions(window.project.connection)
    assert len(versions) == 1 and not versions[0].active
    assert panel.versions_list.count() == 1

    # Make it active in the Model panel.
    panel.versions_list.setCurrentRow(0)
    assert panel.activate_button.isEnabled()
    qtbot.mouseClick(panel.activate_button, Qt.MouseButton.LeftButton)
    versions = records.model_versions(window.project.connection)
    assert versions[0].active
    assert panel.selected_model().source == "project" and panel.selected_model().name == versions[0].name
    assert panel.versions_list.item(0).text().startswith("● active")

    # Pre-segment another new image with the fine-tuned version.
    second = entry_named(window, "nuclei-942d56.png")
    assert second.status == "new"
    show_image(window, qtbot, second)
    assert panel.selected_model().name == versions[0].name
    second_layer = window.current_layer()
    proposal = presegment_and_accept(window, qtbot)
    assert np.array_equal(second_layer.data, proposal)
    assert second.status == "predicted" and second.status_model == versions[0].name

    # 6. Export COCO and PNG masks through File > Export's job, and read them back.
    coco_path = tmp_path / "export" / "coco.json"
    masks_dir = tmp_path / "export" / "masks"

    def fill_export(dialog, key, destination):
        choose_format(dialog.format_box, key)
        dialog.destination.edit.setText(str(destination))

    for key, destination in (("coco", coco_path), ("png", masks_dir)):
        messages.clear()
        run_dialog_job(qtbot, monkeypatch, exchange_dialogs.ExportDialog, exchange_dialogs.run_export, window,
                       lambda dialog, key=key, destination=destination: fill_export(dialog, key, destination))
        assert any("Exported 7 image(s)" in m for m in messages), messages

    from pycocotools.coco import COCO

    coco = COCO(str(coco_path))
    assert len(coco.getImgIds()) == 7
    checked_instances = 0
    for image_info in coco.loadImgs(coco.getImgIds()):
        entry = entry_named(window, Path(image_info["file_name"]).name)
        labels = merged_layers(entry)  # exports hold every label layer, upper ones on top
        assert (image_info["height"], image_info["width"]) == labels.shape
        rebuilt = np.zeros(labels.shape, np.int64)
        for number, annotation in enumerate(coco.loadAnns(coco.getAnnIds(imgIds=image_info["id"])), 1):
            mask = coco.annToMask(annotation).astype(bool)
            assert not (rebuilt[mask] > 0).any()  # no overlaps
            rebuilt[mask] = number
        assert same_partition(rebuilt, labels.astype(np.int64)), image_info["file_name"]
        checked_instances += len(np.unique(labels)) - 1
    assert checked_instances > 50

    for entry in document.images:
        png = masks_dir / "instances" / f"{Path(entry.source.path).stem}.png"
        read = np.asarray(Image.open(png))
        if len(entry.label_layers) == 1:
            assert np.array_equal(read.astype(np.int64), entry.label_layers[0].data.astype(np.int64)), png
        assert same_partition(read.astype(np.int64), merged_layers(entry)), png
    exported_first = np.asarray(Image.open(masks_dir / "instances" / "nuclei-6bd18a.png"))
    assert np.array_equal(exported_first, after_eraser)

    print(f"full loop took {time.monotonic() - started:.1f} s")
    window.document.mark_clean()
