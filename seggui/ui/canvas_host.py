"""Where the main window gets its canvas: the real one when `seggui.ui.canvas` is present,
a plain placeholder otherwise (and while no project is open)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

from seggui.core.document import Document, ImageEntry, Layer
from seggui.core.tools import ToolState


class PlaceholderCanvas(QLabel):
    """Same interface as the canvas; names the image instead of drawing it."""

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


def create_canvas(document: Document | None, tool_state: ToolState, parent: QWidget | None = None) -> QWidget:
    if document is None:
        return PlaceholderCanvas(document, tool_state, parent)
    try:
        from seggui.ui.canvas import Canvas
    except ImportError as error:
        # Only a canvas that is not there yet falls back; a broken canvas must fail loudly.
        missing = isinstance(error, ModuleNotFoundError) and error.name == "seggui.ui.canvas"
        if not (missing or "cannot import name 'Canvas'" in str(error)):
            raise
        return PlaceholderCanvas(document, tool_state, parent)
    return Canvas(document, tool_state, parent)
