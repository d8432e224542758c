"""A long sitting in the real window, where features meet: nothing a person did is changed
unless they changed it.

21 images (the sample project plus 14 more) -> import LabelMe and CVAT -> paint on several
images by mouse, switching between them -> Ctrl+Z on each image only undoes that image ->
batch pre-segmentation with painted images present ("Replace" chosen) -> close and reopen the
window -> every stroke is where it was left, bit for bit, statuses name the model that really
proposed -> pre-segment with the active model -> export: every label layer is in the file.
(The full loop test trains and activates a version; this one is about sessions.)
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from seggui.app import create_main_window
from seggui.formats import import_annotations
from seggui.sample_project import build_sample_project
from seggui.ui import exchange_dialogs
from seggui.core.proposals import REPLACE
from test_full_loop import (PREDICT_TIMEOUT_MS, choose_format, drag, entry_named, merged_layers,
                            run_dialog_job, same_partition, select_model, show_image)

pytestmark = pytest.mark.slow


def cells_image(seed: int, shape=(160, 200)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full(shape, 25, np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for _ in range(8):
        cy, cx = rng.integers(15, shape[0] - 15), rng.integers(15, shape[1] - 15)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= rng.integers(40, 120)] = 200
    return np.clip(image + rng.normal(0, 6, shape), 0, 255).astype(np.uint8)


def open_window(qtbot, folder: Path):
    window = create_main_window()
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    assert window.files.open_project(folder)
    return window


def empty_spot(labels: np.ndarray, size: int = 21) -> tuple[int, int]:
    free = np.argwhere(np.lib.stride_tricks.sliding_window_view(labels == 0, (size, size)).all(axis=(2, 3)))
    assert len(free), "no empty patch to paint in"
    y, x = free[len(free) // 3]
    return int(x) + size // 2, int(y) + size // 2


def test_a_day_in_the_lab(qtbot, tmp_path, monkeypatch):
    messages: list[str] = []
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, lambda parent, title, text, *a, **k: messages.append(text))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Save)
    demo = tmp_path / "demo"
    folder = build_sample_project(demo)
    extra = tmp_path / "more-images"
    extra.mkdir()
    for index in range(14):
        cv2.imwrite(str(extra / f"plate-{index:02d}.png"), cells_image(index))

    window = open_window(qtbot, folder)
    assert window.files.add_images([extra]) == 14
    document = window.document
    assert len(document.images) == 21

    # Colleagues' annotations arrive: LabelMe and CVAT, each a new layer on its images, and a
    # LabelMe file for one of the new plates (a "new" image that now holds someone's cells).
    colleague = tmp_path / "colleague"
    colleague.mkdir()
    (colleague / "plate-03.json").write_text(json.dumps({
        "version": "5.4.1", "flags": {}, "imagePath": "plate-03.png", "imageData": None,
        "imageHeight": 160, "imageWidth": 200,
        "shapes": [{"label": "nucleus", "points": [[20, 20], [60, 20], [60, 50], [20, 50]], "group_id": None,
                    "shape_type": "polygon", "flags": {}}]}))
    imported: dict[str, dict[str, np.ndarray]] = {}
    for key, source, images in (("labelme", demo / "annotations" / "labelme", demo / "images"),
                                ("cvat", demo / "annotations" / "cvat.xml", demo / "images"),
                                ("labelme", colleague, extra)):
        def fill(dialog, key=key, source=source, images=images):
            dialog.source.edit.setText(str(source))
            choose_format(dialog.format_box, key)
            dialog.images.edit.setText(str(images))

        run_dialog_job(qtbot, monkeypatch, exchange_dialogs.ImportDialog, exchange_dialogs.run_import, window, fill)
        for annotation in import_annotations(source, format=key, images_dir=images).images:
            imported.setdefault(Path(annotation.image_name).name, {})[f"imported {key}"] = annotation.labels

    # Paint on four images that nobody labelled, switching between them, as a person would.
    window.tool_state.tool, window.tool_state.brush_radius = "brush", 4
    painted = [entry_named(window, name) for name in ("plate-00.png", "plate-05.png", "plate-09.png")]
    painted.append(next(e for e in document.images if e.status == "new" and e.source.path.parent == demo / "images"
                        and e.source.path.name not in imported))
    strokes: dict[str, list[np.ndarray]] = {}
    for round_ in range(2):
        for entry in painted:
            show_image(window, qtbot, entry)
            layer = entry.label_layers[0]
            x, y = empty_spot(layer.data)
            drag(window.canvas, [(x - 6 + 0.5, y + 0.5), (x + 0.5, y + 0.5), (x + 6 + 0.5, y + 0.5)])
            strokes.setdefault(entry.id, [np.zeros_like(layer.data)]).append(layer.data.copy())
            assert entry.status == "edited"
    for entry in painted:  # two strokes each, two separate cells: the second started on background
        assert len(np.unique(strokes[entry.id][-1])) == 3

    # Ctrl+Z on one image undoes that image's last stroke and nothing anywhere else.
    victim = painted[1]
    show_image(window, qtbot, victim)
    window.activateWindow()
    window.canvas.setFocus()
    assert window.menu_actions.undo.text().endswith(f"on {victim.name}")
    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(victim.label_layers[0].data, strokes[victim.id][1])
    for entry in painted:
        if entry is not victim:
            assert np.array_equal(entry.label_layers[0].data, strokes[entry.id][-1]), entry.name
    strokes[victim.id].pop()
    for name, layers in imported.items():
        entry = entry_named(window, name)
        for layer_name, labels in layers.items():
            assert np.array_equal(next(l for l in entry.label_layers if l.name == layer_name).data, labels)

    # Batch pre-segmentation, "Replace" chosen, with painted and imported images present.
    panel = window.model_panel
    select_model(panel, "classic")
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData(REPLACE))
    new_before = {e.id for e in document.images if e.status == "new"}
    assert entry_named(window, "plate-03.png").id in new_before  # new, holding imported cells
    assert not new_before & {e.id for e in painted}
    assert "left alone" in panel.batch_plan()
    qtbot.mouseClick(panel.batch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=PREDICT_TIMEOUT_MS)
    for entry in painted:
        assert np.array_equal(entry.label_layers[0].data, strokes[entry.id][-1]), entry.name
        assert entry.status == "edited"
    for entry in document.images:
        if entry.id in new_before and not entry.problem:
            assert entry.status == "predicted" and entry.status_model == "classic", entry.name
    for name, layers in imported.items():  # imported cells untouched, and no proposal over them
        entry = entry_named(window, name)
        occupied = np.zeros(entry.label_layers[0].shape, bool)
        for layer_name, labels in layers.items():
            assert np.array_equal(next(l for l in entry.label_layers if l.name == layer_name).data, labels)
            occupied |= labels > 0
        if entry.id in new_before:  # pre-segmented by the batch: around the imported cells only
            others = [l for l in entry.label_layers if l.name not in layers]
            assert all(not (l.data[occupied] > 0).any() for l in others), name

    # Close the window (saving) and come back: everything is where it was left.
    expected = {e.id: [layer.data.copy() for layer in e.label_layers] for e in document.images}
    statuses = {e.id: (e.status, e.status_model) for e in document.images}
    window.close()
    window = open_window(qtbot, folder)
    document = window.document
    assert len(document.images) == 21
    for entry in document.images:
        assert (entry.status, entry.status_model) == statuses[entry.id], entry.name
        assert len(entry.label_layers) == len(expected[entry.id]), entry.name
        for layer, before in zip(entry.label_layers, expected[entry.id]):
            assert np.array_equal(layer.data, before), (entry.name, layer.name)

    # The dock shows the active model (none trained here: the bundled one) and uses it.
    panel = window.model_panel
    assert panel.selected_model().name == "nuclei"
    target = next(e for e in document.images if e.status == "new" and not e.problem) \
        if any(e.status == "new" and not e.problem for e in document.images) else None
    if target is not None:
        show_image(window, qtbot, target)
        qtbot.mouseClick(panel.predict_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not panel.running, timeout=PREDICT_TIMEOUT_MS)
        qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
        assert target.status == "predicted" and target.status_model == "nuclei"

    # Export: every label layer of every image is in the file.
    out = tmp_path / "export.json"

    def fill_export(dialog):
        choose_format(dialog.format_box, "coco")
        dialog.destination.edit.setText(str(out))

    messages.clear()
    run_dialog_job(qtbot, monkeypatch, exchange_dialogs.ExportDialog, exchange_dialogs.run_export, window,
                   fill_export)
    assert any("Exported 21 image(s)" in m for m in messages), messages
    coco = json.loads(out.read_text())
    from pycocotools import mask as mask_utils

    for image in coco["images"]:
        entry = entry_named(window, Path(image["file_name"]).name)
        merged = merged_layers(entry)
        rebuilt = np.zeros(merged.shape, np.int64)
        for number, annotation in enumerate((a for a in coco["annotations"] if a["image_id"] == image["id"]), 1):
            rebuilt[mask_utils.decode(annotation["segmentation"]).astype(bool)] = number
        assert same_partition(rebuilt, merged), entry.name
    window.document.mark_clean()
