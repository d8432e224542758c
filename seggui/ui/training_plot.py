"""Live training curves: training and validation loss (left axis plot) and validation AP50."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget


class TrainingPlot(QWidget):
    """Feed it `epoch` events; `clear()` before a new run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground("w")
        self.graphics.setMinimumHeight(220)
        layout.addWidget(self.graphics)
        self.loss_plot = self.graphics.addPlot(row=0, col=0, title="Loss")
        legend = self.loss_plot.addLegend(offset=(-10, 10))
        legend.setColumnCount(2)  # one row: two stacked entries hid the validation curve in a short dock
        self.loss_plot.showGrid(x=True, y=True, alpha=0.3)
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o",
                                               symbolSize=5, name="training")
        self.validation_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#ff7f0e", width=2), symbol="o",
                                                    symbolSize=5, name="validation")
        self.ap_plot = self.graphics.addPlot(row=1, col=0, title="Validation AP50")
        self.ap_plot.showGrid(x=True, y=True, alpha=0.3)
        self.ap_plot.setYRange(0, 1)
        self.ap_plot.setLabel("bottom", "epoch")
        self.ap_plot.setXLink(self.loss_plot)
        self.ap_curve = self.ap_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=5)
        self.clear()

    def clear(self) -> None:
        self.epochs: list[float] = []
        self.losses: list[float] = []
        self.validation_losses: list[float] = []
        self.aps: list[float] = []
        self._redraw()

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
