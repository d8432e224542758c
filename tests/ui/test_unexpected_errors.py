"""An error that escapes an event handler is shown (status bar, one error box per kind) and
logged, instead of only printed to a terminal the person never sees."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QWidget

from seggui.core import logs
from seggui.ui.unexpected_errors import install


class Broken(QWidget):
    def mousePressEvent(self, event):  # noqa: N802 - Qt's name
        raise ValueError("a label id nothing foresaw")


@pytest.fixture
def boxes(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGGUI_LOG_DIR", str(tmp_path / "logs"))
    shown = []
    monkeypatch.setattr(QMessageBox, "exec",
                        lambda self: shown.append(self.text() + "\n" + self.informativeText()) or 0)
    logs.set_debug(False)
    saved = sys.excepthook
    yield shown, tmp_path / "logs" / "seggui.log"
    sys.excepthook = saved


@pytest.mark.qt_no_exception_capture
def test_an_error_in_a_click_is_shown_once_and_logged_each_time(qtbot, boxes):
    shown, log = boxes
    window = QMainWindow()
    qtbot.addWidget(window)
    broken = Broken()
    window.setCentralWidget(broken)
    window.show()
    hook = install(window)
    assert sys.excepthook is hook
    for _ in range(2):  # through the event loop, as a person's click arrives
        QApplication.postEvent(broken, QMouseEvent(QEvent.Type.MouseButtonPress, QPointF(3, 3), QPointF(3, 3),
                                                   Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton,
                                                   Qt.KeyboardModifier.NoModifier))
        qtbot.waitUntil(lambda: bool(shown))
        qtbot.wait(50)
    assert len(shown) == 1  # one box for the same error, not one per click
    assert "a label id nothing foresaw" in shown[0] and "did not complete" in shown[0]
    assert "a label id nothing foresaw" in window.statusBar().currentMessage()
    assert log.read_text(encoding="utf-8").count("Unexpected error: ValueError: a label id nothing foresaw") == 2


def test_the_previous_hook_is_back_when_the_window_goes(qtbot, boxes):
    before = sys.excepthook
    window = QMainWindow()
    install(window)
    assert sys.excepthook is not before
    window.deleteLater()
    qtbot.waitUntil(lambda: sys.excepthook is before)
