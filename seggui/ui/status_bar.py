"""The status bar: pixel position (also in µm when the file gives a pixel size), raw values
under the cursor, label id and class, the model that pre-segments, save state."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from seggui.core.document import ImageEntry
from seggui.core.layers import LabelLayer


def format_pixel_values(data: np.ndarray, x: int, y: int) -> str:
    """Raw values in the image's own type: 16-bit stays 16-bit, every channel is listed."""
    value = data[y, x]
    values = np.atleast_1d(value)
    if values.dtype.kind == "f":
        parts = [f"{float(v):.4g}" for v in values]
    else:
        parts = [str(int(v)) for v in values]
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def format_position(x: int, y: int, pixel_size_um: tuple[float, float] | None = None) -> str:
    """'x 12, y 5', and where the file gives a pixel size also '(6.5 µm, 2.7 µm)'."""
    text = f"x {x}, y {y}"
    if pixel_size_um:
        text += f"  ({x * pixel_size_um[0]:.4g} µm, {y * pixel_size_um[1]:.4g} µm)"
    return text


def describe_label(layer: LabelLayer, x: int, y: int) -> str:
    label_id = int(layer.data[y, x])
    if label_id == 0:
        return "background"
    class_id = layer.class_of(label_id)
    label_class = layer.class_by_id(class_id) if class_id is not None else None
    return f"label {label_id}" + (f" ({label_class.name})" if label_class else "")


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.position_label = QLabel(self)
        self.value_label = QLabel(self)
        self.label_label = QLabel(self)
        self.save_label = QLabel(self)
        self.model_label = QLabel(self)  # always visible: which model a pre-segmentation would use
        for widget in (self.position_label, self.value_label, self.label_label):
            self.addWidget(widget)
        self.addPermanentWidget(self.model_label)
        self.addPermanentWidget(self.save_label)
        self.clear_cursor()

    def clear_cursor(self) -> None:
        self.position_label.setText("")
        self.value_label.setText("")
        self.label_label.setText("")

    def show_cursor(self, entry: ImageEntry | None, label_layer: LabelLayer | None, x: int, y: int) -> None:
        """Describe pixel (x, y) of `entry`; outside the image the fields are cleared."""
        if entry is None or not entry.loaded:
            self.clear_cursor()
            return
        image = entry.image_layer
        if image is None or not (0 <= y < image.shape[0] and 0 <= x < image.shape[1]):
            self.clear_cursor()
            return
        self.position_label.setText(format_position(x, y, image.pixel_size_um))
        self.value_label.setText(f"value {format_pixel_values(image.data, x, y)}  [{image.data.dtype}]")
        if label_layer is None and entry.label_layers:
            label_layer = entry.label_layers[0]
        self.label_label.setText(describe_label(label_layer, x, y) if label_layer is not None else "")

    def show_save_state(self, text: str, tooltip: str = "") -> None:
        self.save_label.setText(text)
        self.save_label.setToolTip(tooltip)

    def show_model(self, text: str, tooltip: str = "") -> None:
        self.model_label.setText(text)
        self.model_label.setToolTip(tooltip)
