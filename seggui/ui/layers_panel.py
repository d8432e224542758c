"""The Layers dock: the current image's layers and the active layer's settings.

The panel observes the document and the layers (psygnal) and writes every change through
`Document` methods, so all of it is undoable and saved. It keeps no copy of the layers:
after any change it redraws from the document. Which layer is *active* (edited by the
tools) belongs to the main window; the panel asks for a change with `active_layer_requested`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from seggui.core.document import Document, ImageEntry, Layer
from seggui.core.layers import ImageLayer, LabelLayer
from seggui.ui.layer_controls import ClassListEditor, DragCommit, ImageLayerControls

LAYER_ROLE = Qt.ItemDataRole.UserRole + 1


def layer_title(layer: Layer) -> str:
    kind = "image" if isinstance(layer, ImageLayer) else "labels"
    suffix = "  (locked)" if isinstance(layer, LabelLayer) and layer.locked else ""  # image layers never lock
    return f"{layer.name}  [{kind}]{suffix}"


class LayersPanel(QWidget):
    active_layer_requested = Signal(object)  # the layer the user selected
    class_activated = Signal(int)  # a class picked in the class list

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.entry: ImageEntry | None = None
        self.active_layer: Layer | None = None
        self._observed: list[Layer] = []
        self._syncing = False
        self._opacity_drag = DragCommit()
        self.new_layer_opacity = 0.5  # a user preference (Settings), given to new label layers

        self.layer_list = QListWidget(self)
        self.layer_list.setToolTip("Layers, top first. Tick to show; select to edit.")
        self.layer_list.setMaximumHeight(130)
        self.layer_list.currentItemChanged.connect(self._on_current_item)
        self.layer_list.itemChanged.connect(self._on_item_changed)
        self.up_button = QPushButton("Up", self)
        self.down_button = QPushButton("Down", self)
        self.add_button = QPushButton("Add labels", self)
        self.add_button.setToolTip("Add an empty label layer to this image")
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip("Remove the selected label layer (undo brings it back)")
        self.up_button.clicked.connect(lambda: self.move_active(1))
        self.down_button.clicked.connect(lambda: self.move_active(-1))
        self.add_button.clicked.connect(lambda: self.add_label_layer())
        self.remove_button.clicked.connect(lambda: self.remove_active())

        self.name_edit = QLineEdit(self)
        self.name_edit.editingFinished.connect(self._on_name_edited)
        self.visible_box = QCheckBox("Visible", self)
        self.visible_box.toggled.connect(lambda on: self._set("visible", bool(on)))
        self.locked_box = QCheckBox("Locked", self)
        self.locked_box.setToolTip("A locked label layer cannot be painted")
        self.locked_box.toggled.connect(lambda on: self._set("locked", bool(on)))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.opacity_slider.sliderPressed.connect(
            lambda: self.active_layer and self._opacity_drag.press(self.active_layer, "opacity"))
        self.opacity_slider.sliderReleased.connect(
            lambda: self.active_layer and self._opacity_drag.release(self.document, self.active_layer, "opacity"))

        self.image_controls = ImageLayerControls(document, self)
        self.image_group = QGroupBox("Display", self)
        QVBoxLayout(self.image_group).addWidget(self.image_controls)
        self.class_editor = ClassListEditor(document, self)
        self.class_editor.class_activated.connect(self.class_activated)
        self.class_group = QGroupBox("Classes", self)
        QVBoxLayout(self.class_group).addWidget(self.class_editor)
        self.empty_label = QLabel("Select an image to see its layers.", self)
        self.empty_label.setWordWrap(True)

        buttons = QHBoxLayout()
        for button in (self.up_button, self.down_button, self.add_button, self.remove_button):
            buttons.addWidget(button)
        toggles = QHBoxLayout()
        toggles.addWidget(self.visible_box)
        toggles.addWidget(self.locked_box)
        toggles.addStretch(1)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Opacity", self.opacity_slider)
        form.addRow(toggles)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.layer_list)
        layout.addLayout(buttons)
        layout.addLayout(form)
        layout.addWidget(self.image_group)
        layout.addWidget(self.class_group)
        layout.addStretch(1)

        document.layer_added.connect(self._on_layers_changed)
        document.layer_removed.connect(self._on_layers_changed)
        document.layers_moved.connect(self._on_layers_changed)
        self._rebuild()

    def detach(self) -> None:
        """Stop observing (the document is being replaced)."""
        self.document.layer_added.disconnect(self._on_layers_changed)
        self.document.layer_removed.disconnect(self._on_layers_changed)
        self.document.layers_moved.disconnect(self._on_layers_changed)
        self._observe([])
        self.image_controls.set_layer(None)
        self.class_editor.set_layer(None)

    # -- inputs from the window ------------------------------------------------------
    def set_image(self, entry: ImageEntry | None) -> None:
        self.entry = entry
        self.active_layer = None
        self._rebuild()

    def set_active_layer(self, layer: Layer | None) -> None:
        self.active_layer = layer
        self._rebuild()

    # -- observing -------------------------------------------------------------------
    def _observe(self, layers: list[Layer]) -> None:
        for layer in self._observed:
            layer.changed.disconnect(self._on_layer_property)
        self._observed = list(layers)
        for layer in self._observed:
            layer.changed.connect(self._on_layer_property)

    def _on_layers_changed(self, entry: ImageEntry, *args) -> None:
        if entry is self.entry:
            self._rebuild()

    def _on_layer_property(self, name: str) -> None:
        if name in ("name", "visible", "opacity", "locked"):
            self._rebuild()

    def layers(self) -> list[Layer]:
        if self.entry is None or not self.entry.loaded:
            return []
        return list(self.entry.layers)

    def _rebuild(self) -> None:
        layers = self.layers()
        self._observe(layers)
        active = self.active_layer if self.active_layer in layers else None
        self._syncing = True
        try:
            self.layer_list.clear()
            for layer in reversed(layers):  # top of the stack first, as drawn
                item = QListWidgetItem(layer_title(layer))
                item.setData(LAYER_ROLE, layer.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
                self.layer_list.addItem(item)
                if layer is active:
                    self.layer_list.setCurrentItem(item)
            has_layers = bool(layers)
            self.empty_label.setVisible(not has_layers)
            for widget in (self.layer_list, self.up_button, self.down_button, self.add_button,
                           self.remove_button):
                widget.setVisible(has_layers)
            for widget in (self.name_edit, self.visible_box, self.opacity_slider):
                widget.setEnabled(active is not None)
            index = layers.index(active) if active is not None else -1
            self.up_button.setEnabled(active is not None and index < len(layers) - 1)
            self.down_button.setEnabled(active is not None and index > 0)
            self.remove_button.setEnabled(isinstance(active, LabelLayer))
            self.locked_box.setEnabled(isinstance(active, LabelLayer))
            if active is not None:
                self.name_edit.setText(active.name)
                self.visible_box.setChecked(active.visible)
                self.locked_box.setChecked(isinstance(active, LabelLayer) and active.locked)
                if self._opacity_drag.start_value is None:
                    self.opacity_slider.setValue(round(active.opacity * 100))
            else:
                self.name_edit.clear()
            is_image, is_labels = isinstance(active, ImageLayer), isinstance(active, LabelLayer)
            self.image_group.setVisible(is_image)
            self.class_group.setVisible(is_labels)
            if self.image_controls.layer is not (active if is_image else None):
                self.image_controls.set_layer(active if is_image else None)
            if self.class_editor.layer is not (active if is_labels else None):
                self.class_editor.set_layer(active if is_labels else None)
        finally:
            self._syncing = False

    # -- user edits (all through the document) ---------------------------------------
    def _layer_of_item(self, item: QListWidgetItem | None) -> Layer | None:
        if item is None or self.entry is None:
            return None
        return self.entry.layer_by_id(item.data(LAYER_ROLE))

    def _on_current_item(self, current: QListWidgetItem | None, previous) -> None:
        if self._syncing:
            return
        layer = self._layer_of_item(current)
        if layer is not None and layer is not self.active_layer:
            self.active_layer_requested.emit(layer)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._syncing:
            return
        layer = self._layer_of_item(item)
        if layer is not None:
            self.document.set_layer_property(layer, "visible", item.checkState() == Qt.CheckState.Checked)

    def _set(self, name: str, value) -> None:
        if not self._syncing and self.active_layer is not None:
            self.document.set_layer_property(self.active_layer, name, value)

    def _on_name_edited(self) -> None:
        name = self.name_edit.text().strip()
        if self.active_layer is not None and name and name != self.active_layer.name:
            self.document.set_layer_property(self.active_layer, "name", name)
        elif self.active_layer is not None:
            self.name_edit.setText(self.active_layer.name)  # an empty name is not a name

    def _on_opacity(self, value: int) -> None:
        if self._syncing or self.active_layer is None:
            return
        self._opacity_drag.change(self.document, self.active_layer, "opacity", value / 100.0,
                                  self._opacity_drag.start_value is not None)

    def move_active(self, step: int) -> None:
        """Move the active layer `step` places up (positive) or down the stack."""
        if self.entry is None or self.active_layer is None:
            return
        index = self.entry.layers.index(self.active_layer)
        self.document.move_layer(self.entry, self.active_layer, index + step)

    def add_label_layer(self, name: str | None = None) -> LabelLayer | None:
        """Add an empty label layer (with the classes of the first one) and make it active."""
        if self.entry is None:
            return None
        existing = self.entry.label_layers
        names = {layer.name for layer in self.entry.layers}
        if name is None:
            number = len(existing) + 1
            name = "labels" if "labels" not in names else f"labels {number}"
            while name in names:
                number += 1
                name = f"labels {number}"
        shape = (self.entry.source.height, self.entry.source.width)
        classes = list(existing[0].classes) if existing else None
        layer = LabelLayer.empty(shape, name=name, classes=classes)
        layer.opacity = self.new_layer_opacity
        self.document.add_layer(self.entry, layer)
        self.active_layer_requested.emit(layer)
        return layer

    def remove_active(self) -> None:
        if self.entry is not None and isinstance(self.active_layer, LabelLayer):
            self.document.remove_layer(self.entry, self.active_layer)
