"""The right docks at 1280x720: the wheel scrolls the dock (Ctrl+wheel zooms a chart), each
run starts from the full chart view, version entries wrap instead of scrolling sideways."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from seggui.core import records
from seggui.ui.main_window import MainWindow
from seggui.ui.model_docks import install_model_docks

from test_model_panel import make_project  # noqa: E402 - tests/ui is on sys.path


@pytest.fixture
def setup(qtbot, tmp_path):
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.files.open_project(make_project(tmp_path, 2))
    panel, dock = install_model_docks(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    yield window, panel, dock
    if window.document is not None:
        window.document.mark_clean()


def scroll_area(widget) -> QScrollArea:
    while not isinstance(widget, QScrollArea):
        widget = widget.parentWidget()
    return widget


def wheel(widget, modifiers=Qt.KeyboardModifier.NoModifier, delta: int = -240, at=None) -> bool:
    """Send a wheel event; returns whether the widget kept it (an ignored one goes on to the
    parents, the dock's scroll area among them, when it comes from a real mouse: Qt does not
    pass on synthetic wheel events, so the scroll itself is checked on the scroll area)."""
    centre = QPointF(at) if at is not None else QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def epochs(dock, count: int) -> None:
    for epoch in range(1, count + 1):
        dock.plot.add_epoch({"epoch": epoch, "loss": 1.0 / epoch, "val_loss": 1.2 / epoch, "val_ap50": 0.1 * epoch})


def test_wheel_scrolls_the_dock_ctrl_wheel_zooms_and_a_new_run_resets(setup, qtbot):
    window, panel, dock = setup
    window.docks["Training"].raise_()
    area = scroll_area(dock)
    area.resize(area.width(), 300)  # short enough to scroll
    qtbot.waitUntil(lambda: area.verticalScrollBar().maximum() > 0)
    epochs(dock, 6)
    qtbot.wait(100)
    view = dock.plot.loss_plot.getViewBox()
    view.updateAutoRange()
    before = view.viewRange()
    viewport = dock.plot.graphics.viewport()
    over_chart = lambda: dock.plot.graphics.mapFromScene(view.sceneBoundingRect().center())  # noqa: E731
    assert not wheel(viewport, at=over_chart())  # passed on to the dock
    assert view.viewRange() == before  # the chart did not zoom
    wheel(area.viewport())
    assert area.verticalScrollBar().value() > 0  # where it goes: the dock scrolls
    wheel(viewport, Qt.KeyboardModifier.ControlModifier, at=over_chart())
    zoomed = view.viewRange()
    assert zoomed != before
    assert not view.autoRangeEnabled()[0]
    dock.plot.clear()  # what start() does for a new run
    epochs(dock, 3)
    view.updateAutoRange()
    assert all(view.autoRangeEnabled())
    assert view.viewRange()[0][1] < zoomed[0][1] + 10 and view.viewRange()[0][1] <= 3.5


def test_loss_legend_is_outside_the_curves(setup):
    window, panel, dock = setup
    assert dock.plot.loss_plot.legend is None
    title = dock.plot.loss_plot.titleLabel.text
    assert "training" in title and "validation" in title


def test_long_version_entries_wrap_without_a_horizontal_scrollbar(setup, qtbot):
    window, panel, dock = setup
    card = {"validation": {"trained": {"val_ap50": 0.71, "val_dice": 0.85}, "base": {"val_ap50": 0.6},
                           "measured": True}}
    for index in range(3):
        records.add_model_version(window.project.connection, f"nuclei-ft-20260101-1200{index:02d}-very-long-name",
                                  f"models/v{index}", card)
    panel.refresh_models()
    window.docks["Model"].raise_()
    qtbot.wait(50)
    versions = panel.versions_list
    assert versions.count() == 3
    assert not versions.horizontalScrollBar().isVisible()
    assert versions.item(0).toolTip() and "very-long-name" in versions.item(0).toolTip()
    assert not scroll_area(panel).horizontalScrollBar().isVisible()


def test_contrast_slider_has_the_row_to_itself(setup, qtbot):
    window, panel, dock = setup
    window.docks["Layers"].raise_()
    window.set_current_layer(window.current_image().image_layer)
    controls = window.layers_panel.image_controls
    qtbot.waitUntil(controls.contrast_slider.isVisible)
    qtbot.wait(50)
    # It was a sliver beside its value boxes and a stretched Auto button.
    assert controls.contrast_slider.width() >= 0.7 * controls.width()
    assert controls.auto_button.width() < 0.5 * controls.width()
