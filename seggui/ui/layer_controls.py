"""Editors for one layer's details: image display settings and a label layer's classes.

Both observe the layer (psygnal) and write back through `Document` methods, so every
change is undoable and saved; they keep no copy of the values they show.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleRangeSlider, QLabeledDoubleSlider

from seggui.core.annotation import LabelClass, default_class_color
from seggui.core.document import Document
from seggui.core.layers import COLORMAPS, ImageLayer, LabelLayer


def color_icon(color: tuple[int, int, int], size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


def value_range(layer: ImageLayer, channel: int) -> tuple[float, float]:
    """The slider's span: the dtype's range for integers (so 16-bit data is not clipped), the
    data's range for floats."""
    dtype = layer.data.dtype
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    data = layer.data if layer.data.ndim == 2 else layer.data[:, :, channel]
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return low, high if high > low else low + 1.0


class DragCommit:
    """Live preview while a slider is dragged, one undo step when it is released.

    During the drag the layer is updated directly; on release it is put back to the value
    at the press and the final value goes through `Document.set_layer_property`.
    """

    def __init__(self):
        self.start_value = None

    def press(self, layer, name: str) -> None:
        self.start_value = getattr(layer, name)

    def change(self, document: Document, layer, name: str, value, dragging: bool) -> None:
        if dragging and self.start_value is not None:
            layer.set_property(name, value)
        else:
            document.set_layer_property(layer, name, value)

    def release(self, document: Document, layer, name: str) -> None:
        if self.start_value is None:
            return
        final, start, self.start_value = getattr(layer, name), self.start_value, None
        layer.set_property(name, start)
        document.set_layer_property(layer, name, final)


class ImageLayerControls(QWidget):
    """Per channel: colormap and contrast limits (with Auto); gamma for the layer."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.layer: ImageLayer | None = None
        self._syncing = False
        self._contrast_drag = DragCommit()
        self._gamma_drag = DragCommit()

        self.channel_box = QComboBox(self)
        self.channel_box.currentIndexChanged.connect(lambda _: self._sync())
        self.colormap_box = QComboBox(self)
        self.colormap_box.addItems(list(COLORMAPS))
        self.colormap_box.currentTextChanged.connect(self._on_colormap)
        self.contrast_slider = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal, self)
        self.contrast_slider.setToolTip("Contrast limits of this channel, in raw pixel values")
        # The two edge boxes show (and edit) the limits themselves; no labels over the handles.
        self.contrast_slider.setHandleLabelPosition(QLabeledDoubleRangeSlider.LabelPosition.NoLabel)
        self.contrast_slider.setEdgeLabelMode(QLabeledDoubleRangeSlider.EdgeLabelMode.LabelIsValue)
        self.contrast_slider.valueChanged.connect(self._on_contrast)
        self.contrast_slider.sliderPressed.connect(
            lambda: self.layer and self._contrast_drag.press(self.layer, "contrast_limits"))
        self.contrast_slider.sliderReleased.connect(
            lambda: self.layer and self._contrast_drag.release(self.document, self.layer, "contrast_limits"))
        self.auto_button = QPushButton("Auto", self)
        self.auto_button.setToolTip("Set the contrast limits from the 0.5 and 99.5 percentiles")
        self.auto_button.clicked.connect(self._on_auto)
        self.gamma_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal, self)
        self.gamma_slider.setRange(0.2, 3.0)
        self.gamma_slider.setDecimals(2)
        self.gamma_slider.valueChanged.connect(self._on_gamma)
        self.gamma_slider.sliderPressed.connect(lambda: self.layer and self._gamma_drag.press(self.layer, "gamma"))
        self.gamma_slider.sliderReleased.connect(
            lambda: self.layer and self._gamma_drag.release(self.document, self.layer, "gamma"))

        # The slider has the row's whole width (beside its two value boxes it was a sliver in
        # a narrow dock); Auto sits under it, as wide as its text.
        self.auto_button.setText("Auto contrast")
        self.auto_button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Channel", self.channel_box)
        form.addRow("Colormap", self.colormap_box)
        form.addRow("Contrast", self.contrast_slider)
        form.addRow("", self.auto_button)
        form.addRow("Gamma", self.gamma_slider)

    def set_layer(self, layer: ImageLayer | None) -> None:
        if self.layer is not None:
            self.layer.changed.disconnect(self._on_layer_changed)
        self.layer = layer
        if layer is not None:
            layer.changed.connect(self._on_layer_changed)
            self._syncing = True
            self.channel_box.clear()
            names = layer.channel_names if len(layer.channel_names) == layer.channels else [
                f"channel {c + 1}" for c in range(layer.channels)]
            self.channel_box.addItems(names)
            self.channel_box.setEnabled(layer.channels > 1)
            self._syncing = False
        self._sync()

    def _on_layer_changed(self, name: str) -> None:
        if name in ("contrast_limits", "colormaps", "gamma"):
            self._sync()

    @property
    def channel(self) -> int:
        return max(self.channel_box.currentIndex(), 0)

    def _sync(self) -> None:
        layer = self.layer
        if layer is None or self._syncing:
            return
        self._syncing = True
        try:
            channel = min(self.channel, layer.channels - 1)
            low, high = value_range(layer, channel)
            self.contrast_slider.setRange(low, high)
            self.contrast_slider.setDecimals(0 if layer.data.dtype.kind in "ui" else 3)
            self.contrast_slider.setValue(tuple(layer.contrast_limits[channel]))
            self.colormap_box.setCurrentText(layer.colormaps[channel])
            self.gamma_slider.setValue(layer.gamma)
        finally:
            self._syncing = False

    def _on_contrast(self, value) -> None:
        if self._syncing or self.layer is None:
            return
        limits = list(self.layer.contrast_limits)
        limits[self.channel] = (float(value[0]), float(max(value[1], value[0] + 1e-6)))
        self._contrast_drag.change(self.document, self.layer, "contrast_limits", limits,
                                   self._contrast_drag.start_value is not None)

    def _on_auto(self) -> None:
        if self.layer is None:
            return
        from seggui.core.layers import auto_contrast

        data = self.layer.data if self.layer.data.ndim == 2 else self.layer.data[:, :, self.channel]
        limits = list(self.layer.contrast_limits)
        limits[self.channel] = auto_contrast(data)
        self.document.set_layer_property(self.layer, "contrast_limits", limits)

    def _on_colormap(self, name: str) -> None:
        if self._syncing or self.layer is None or not name:
            return
        colormaps = list(self.layer.colormaps)
        colormaps[self.channel] = name
        self.document.set_layer_property(self.layer, "colormaps", colormaps)

    def _on_gamma(self, value: float) -> None:
        if self._syncing or self.layer is None:
            return
        self._gamma_drag.change(self.document, self.layer, "gamma", float(value),
                                self._gamma_drag.start_value is not None)


class ClassListEditor(QWidget):
    """A label layer's classes with their colours: add, rename, recolour."""

    class_activated = Signal(int)  # class id the user picked (to paint new instances with)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.layer: LabelLayer | None = None
        self.list = QListWidget(self)
        self.list.setMaximumHeight(120)
        self.list.itemDoubleClicked.connect(lambda item: self.rename_class())
        self.list.currentRowChanged.connect(self._on_row)
        self.add_button = QPushButton("Add", self)
        self.rename_button = QPushButton("Rename", self)
        self.color_button = QPushButton("Colour…", self)
        self.add_button.clicked.connect(lambda: self.add_class())
        self.rename_button.clicked.connect(lambda: self.rename_class())
        self.color_button.clicked.connect(lambda: self.recolor_class())
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rename_button, self.color_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

    def set_layer(self, layer: LabelLayer | None) -> None:
        if self.layer is not None:
            self.layer.changed.disconnect(self._on_layer_changed)
        self.layer = layer
        if layer is not None:
            layer.changed.connect(self._on_layer_changed)
        self._sync()

    def _on_layer_changed(self, name: str) -> None:
        if name == "classes":
            self._sync()

    def _sync(self) -> None:
        row = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.clear()
        for label_class in self.layer.classes if self.layer is not None else []:
            item = QListWidgetItem(color_icon(label_class.color), f"{label_class.id}  {label_class.name}")
            item.setData(Qt.ItemDataRole.UserRole, label_class.id)
            self.list.addItem(item)
        self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))
        self.list.blockSignals(False)
        for button in (self.add_button, self.rename_button, self.color_button):
            button.setEnabled(self.layer is not None)

    def _on_row(self, row: int) -> None:
        if self.layer is not None and 0 <= row < len(self.layer.classes):
            self.class_activated.emit(self.layer.classes[row].id)

    def selected_class(self) -> LabelClass | None:
        row = self.list.currentRow()
        if self.layer is None or not 0 <= row < len(self.layer.classes):
            return None
        return self.layer.classes[row]

    def add_class(self, name: str | None = None) -> LabelClass | None:
        if self.layer is None:
            return None
        if name is None:
            name, accepted = QInputDialog.getText(self, "New class", "Class name:")
            if not accepted or not name.strip():
                return None
        new_id = max((c.id for c in self.layer.classes), default=0) + 1
        created = LabelClass(new_id, name.strip(), default_class_color(new_id))
        self.document.set_classes(self.layer, [*self.layer.classes, created])
        self.list.setCurrentRow(self.list.count() - 1)
        return created

    def rename_class(self, name: str | None = None) -> None:
        selected = self.selected_class()
        if self.layer is None or selected is None:
            return
        if name is None:
            name, accepted = QInputDialog.getText(self, "Rename class", "Class name:", text=selected.name)
            if not accepted or not name.strip():
                return
        self._replace(selected, LabelClass(selected.id, name.strip(), selected.color))

    def recolor_class(self, color: tuple[int, int, int] | None = None) -> None:
        selected = self.selected_class()
        if self.layer is None or selected is None:
            return
        if color is None:
            chosen = QColorDialog.getColor(QColor(*selected.color), self, f"Colour of {selected.name}")
            if not chosen.isValid():
                return
            color = (chosen.red(), chosen.green(), chosen.blue())
        self._replace(selected, LabelClass(selected.id, selected.name, tuple(color)))

    def _replace(self, old: LabelClass, new: LabelClass) -> None:
        assert self.layer is not None
        self.document.set_classes(self.layer, [new if c.id == old.id else c for c in self.layer.classes])
