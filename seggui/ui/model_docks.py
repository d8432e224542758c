"""Adding the Model, Training and Review queue docks to the main window (called by
seggui.app.create_main_window, and by tests that want the docks).

    from seggui.ui.model_docks import install_model_docks
    model_panel, training_dock = install_model_docks(window)
    window.restore_later_docks()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

from seggui.ui.model_panel import ModelPanel
from seggui.ui.review_queue import install_review_queue
from seggui.ui.training_dock import TrainingDock

if TYPE_CHECKING:
    from seggui.ui.main_window import MainWindow


def install_model_docks(window: "MainWindow") -> tuple[ModelPanel, TrainingDock]:
    """Create the Model, Training and Review queue docks on `window` and wire them together.

    They become `window.model_panel`, `window.training_dock` and `window.review_queue`;
    returns (model_panel, training_dock). Call once after the window is built, then
    `window.restore_later_docks()` to bring back their saved placement.
    """
    right = Qt.DockWidgetArea.RightDockWidgetArea
    model_panel = ModelPanel(window)
    training_dock = TrainingDock(window)
    window.add_dock("Model", _scrollable(model_panel), right)
    window.add_dock("Training", _scrollable(training_dock), right)
    # The cells of the image on screen, least confident first (scores kept by accepting a proposal).
    window.review_queue = install_review_queue(window)
    window.model_panel, window.training_dock = model_panel, training_dock
    # A finished training run adds a version: list it in the Model panel, leaving the model
    # that pre-segments alone (only Make active, or the dock's explicit "make active if it
    # beats the base", changes that); making a version active changes the default base model.
    training_dock.version_added.connect(lambda folder: model_panel.refresh_models())
    training_dock.version_activated.connect(lambda folder: model_panel.show_active_model())
    model_panel.versions_changed.connect(training_dock.refresh_models)
    return model_panel, training_dock


def _scrollable(widget: QWidget) -> QScrollArea:
    """On a short laptop screen the dock scrolls instead of squeezing its rows unreadable."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area
