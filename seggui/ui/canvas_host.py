"""Where the main window gets its canvas: the real one for an open project, a plain
placeholder while none is open."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

from seggui.core.document import Document, ImageEntry, Layer
from seggui.core.tools import ToolState
from seggui.ui.canvas import Canvas


class PlaceholderCanvas(QLabel):
    """Stands in for the canvas while no project is open, with the part of its interface the
    window calls on either (set_image, set_active_layer, fit_to_window, zoom_1to1,
    cursor_moved); it names the image instead of drawing it."""

    cursor_moved = Signal(int, int)

    def __init__(self, document: Document | None, tool_state: ToolState, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.entry: ImageEntry | None = None
        self.active_layer: Layer | None = None

    def set_image(self, entry: ImageEntry | None) -> None:
        self.entry = entry
        self.setText("" if entry is None else f"{entry.name}\n{entry.source.width} x {entry.source.height}")

    def set_active_layer(self, layer: Layer | None) -> None:
        self.active_layer = layer

    def fit_to_window(self) -> None:
        pass

    def zoom_1to1(self) -> None:
        pass


def create_canvas(document: Document | None, tool_state: ToolState,
                  parent: QWidget | None = None) -> Canvas | PlaceholderCanvas:
    if document is None:
        return PlaceholderCanvas(document, tool_state, parent)
    return Canvas(document, tool_state, parent)
