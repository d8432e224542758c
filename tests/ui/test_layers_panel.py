"""The Layers panel writes through the document (undoable) and follows it."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from seggui.core.document import Document, ImageEntry, ImageSource
from seggui.core.layers import ImageLayer, LabelLayer
from seggui.ui.layers_panel import LAYER_ROLE, LayersPanel


@pytest.fixture
def setup(qtbot, tmp_path):
    document = Document()
    image = ImageLayer(np.arange(40 * 50, dtype=np.uint16).reshape(40, 50), name="image")
    labels = LabelLayer.empty((40, 50), name="labels")
    entry = ImageEntry(ImageSource(tmp_path / "a.png", 40, 50), name="a.png")
    entry.set_layers([image, labels])
    document.add_image(entry)
    document.mark_clean()
    panel = LayersPanel(document)
    qtbot.addWidget(panel)
    panel.active_layer_requested.connect(panel.set_active_layer)  # the window's role
    panel.set_image(entry)
    panel.set_active_layer(labels)
    return document, entry, image, labels, panel


def item_for(panel: LayersPanel, layer):
    for row in range(panel.layer_list.count()):
        item = panel.layer_list.item(row)
        if item.data(LAYER_ROLE) == layer.id:
            return item
    raise AssertionError(f"{layer.name} not listed")


def test_lists_layers_top_first(setup):
    document, entry, image, labels, panel = setup
    assert [panel.layer_list.item(r).data(LAYER_ROLE) for r in range(2)] == [labels.id, image.id]
    assert panel.class_group.isVisibleTo(panel) and not panel.image_group.isVisibleTo(panel)


def test_visibility_opacity_lock_and_rename_are_undoable(setup):
    document, entry, image, labels, panel = setup
    item_for(panel, labels).setCheckState(Qt.CheckState.Unchecked)
    assert labels.visible is False
    panel.opacity_slider.setValue(80)
    assert labels.opacity == pytest.approx(0.8)
    panel.locked_box.setChecked(True)
    assert labels.locked
    assert "(locked)" in item_for(panel, labels).text()
    panel.name_edit.setText("nuclei")
    panel.name_edit.editingFinished.emit()
    assert labels.name == "nuclei"
    assert document.dirty
    for _ in range(4):
        document.undo_stack.undo()
    assert (labels.visible, labels.opacity, labels.locked, labels.name) == (True, 0.5, False, "labels")
    assert panel.name_edit.text() == "labels" and panel.opacity_slider.value() == 50
    assert not document.dirty


def test_opacity_drag_is_one_undo_step(setup):
    document, entry, image, labels, panel = setup
    panel.opacity_slider.sliderPressed.emit()
    for value in (55, 60, 70, 90):
        panel.opacity_slider.setValue(value)
    panel.opacity_slider.sliderReleased.emit()
    assert labels.opacity == pytest.approx(0.9)
    document.undo_stack.undo()
    assert labels.opacity == pytest.approx(0.5)


def test_add_reorder_remove_follow_the_document(setup):
    document, entry, image, labels, panel = setup
    added = panel.add_label_layer()
    assert added in entry.layers and added.name == "labels 2"
    assert panel.active_layer is added and panel.layer_list.count() == 3
    panel.move_active(-1)  # below "labels"
    assert entry.layers.index(added) == 1
    assert panel.layer_list.item(1).data(LAYER_ROLE) == added.id
    assert panel.up_button.isEnabled()  # it can go back up
    panel.remove_active()
    assert added not in entry.layers and panel.layer_list.count() == 2
    document.undo_stack.undo()  # remove undone
    assert added in entry.layers
    document.undo_stack.undo()  # move undone
    document.undo_stack.undo()  # add undone
    assert added not in entry.layers and panel.layer_list.count() == 2


def test_image_layer_cannot_be_removed_and_shows_display_controls(setup):
    document, entry, image, labels, panel = setup
    item_for(panel, image).setSelected(True)
    panel.layer_list.setCurrentItem(item_for(panel, image))
    assert panel.active_layer is image
    assert not panel.remove_button.isEnabled()
    assert panel.image_group.isVisibleTo(panel)
    assert panel.image_controls.contrast_slider.maximum() == 65535  # 16-bit range, not 255
    panel.image_controls.colormap_box.setCurrentText("green")
    assert image.colormaps == ["green"]
    image.set_property("contrast_limits", [(0.0, 10.0)])
    panel.image_controls.auto_button.click()
    assert image.contrast_limits[0][1] > 1000
    document.undo_stack.undo()
    assert image.contrast_limits == [(0.0, 10.0)]


def test_classes_add_rename_recolour(setup):
    document, entry, image, labels, panel = setup
    editor = panel.class_editor
    created = editor.add_class("debris")
    assert [c.name for c in labels.classes] == ["cell", "debris"]
    assert editor.list.count() == 2 and editor.selected_class().id == created.id
    editor.rename_class("junk")
    editor.recolor_class((1, 2, 3))
    assert labels.class_by_id(created.id).name == "junk"
    assert labels.class_by_id(created.id).color == (1, 2, 3)
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert [c.name for c in labels.classes] == ["cell"] and editor.list.count() == 1
