"""Live training curves: training and validation loss (left axis plot) and validation AP50.

The charts sit in a scrolling dock, so the mouse wheel scrolls the dock; Ctrl+wheel zooms a
chart, and every new run starts from the full view again. The legend is the loss chart's
title (coloured names), so it never covers a curve.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

TRAIN_COLOR, VALIDATION_COLOR, AP_COLOR = "#1f77b4", "#ff7f0e", "#2ca02c"
LOSS_TITLE = (f"Loss: <span style='color:{TRAIN_COLOR}'>━ training</span>&nbsp;&nbsp;"
              f"<span style='color:{VALIDATION_COLOR}'>━ validation</span>")


class _ChartsWidget(pg.GraphicsLayoutWidget):
    """Plain wheel: ignored, so it reaches the dock's scroll area; Ctrl+wheel: zoom."""

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)
        else:
            event.ignore()


class TrainingPlot(QWidget):
    """Feed it `epoch` events; `clear()` before a new run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = _ChartsWidget(self)
        self.graphics.setBackground("w")
        self.graphics.setMinimumHeight(220)
        self.graphics.setToolTip("Ctrl+wheel zooms a chart; each new run shows it whole again")
        layout.addWidget(self.graphics)
        self.loss_plot = self.graphics.addPlot(row=0, col=0, title=LOSS_TITLE)
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen(TRAIN_COLOR, width=2), symbol="o",
                                               symbolBrush=TRAIN_COLOR, symbolSize=5, name="training")
        self.validation_curve = self.loss_plot.plot([], [], pen=pg.mkPen(VALIDATION_COLOR, width=2), symbol="o",
                                                    symbolBrush=VALIDATION_COLOR, symbolSize=5, name="validation")
        self.ap_plot = self.graphics.addPlot(row=1, col=0, title="Validation AP50")
        self.ap_plot.showGrid(x=True, y=True, alpha=0.3)
        self.ap_plot.setLabel("bottom", "epoch")
        self.ap_plot.setXLink(self.loss_plot)
        self.ap_curve = self.ap_plot.plot([], [], pen=pg.mkPen(AP_COLOR, width=2), symbol="o",
                                          symbolBrush=AP_COLOR, symbolSize=5)
        self.clear()

    def clear(self) -> None:
        self.epochs: list[float] = []
        self.losses: list[float] = []
        self.validation_losses: list[float] = []
        self.aps: list[float] = []
        self.reset_view()
        self._redraw()

    def reset_view(self) -> None:
        """Forget any zoom or pan: the whole run, loss scaled to its curves, AP50 from 0 to 1."""
        self.loss_plot.enableAutoRange(axis=pg.ViewBox.XYAxes, enable=True)
        self.ap_plot.enableAutoRange(axis=pg.ViewBox.XAxis, enable=True)
        self.ap_plot.setYRange(0, 1, padding=0.02)

    def add_epoch(self, event: dict) -> None:
        def number(key: str) -> float:
            value = event.get(key)
            return float("nan") if value is None else float(value)  # NaN leaves a gap, not a zero

        self.epochs.append(float(event.get("epoch", len(self.epochs) + 1)))
        self.losses.append(number("loss"))
        self.validation_losses.append(number("val_loss"))
        self.aps.append(number("val_ap50"))
        self._redraw()

    def _redraw(self) -> None:
        self.train_curve.setData(self.epochs, self.losses)
        self.validation_curve.setData(self.epochs, self.validation_losses, connect="finite")
        self.ap_curve.setData(self.epochs, self.aps, connect="finite")
