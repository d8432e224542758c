"""Opening a project another seggui holds, through the window: who holds it, read-only or take over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from seggui.core.project_lock import read_lock
from seggui.ui.main_window import MainWindow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_shared_project import HOLDER, REPO, make_project, paint  # noqa: E402


@pytest.fixture
def window(qtbot):
    window = MainWindow(autosave_delay_ms=100)
    qtbot.addWidget(window)
    window.show()
    yield window
    if window.document is not None:
        window.document.mark_clean()


@pytest.mark.parametrize("answer", ["Open read-only", "Take over"])
def test_locked_project_offers_read_only_or_take_over(window, tmp_path, monkeypatch, qtbot, answer):
    folder = make_project(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    shown: list[str] = []

    def exec_box(box):
        shown.append(f"{box.windowTitle()}: {box.text()} {box.informativeText()}")
        button = next((b for b in box.buttons() if b.text() == answer), None)
        if button is not None:
            button.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert window.files.open_project(folder)
        assert shown and shown[0].startswith("Project already open") and f"process {holder.pid}" in shown[0]
        if answer == "Open read-only":
            assert window.project.read_only and "(read-only)" in window.windowTitle()
            assert not window.autosave.enabled
            paint(window.document, 1, 3)
            qtbot.wait(300)  # autosave would have fired by now
            assert read_lock(folder).pid == holder.pid  # nothing saved, the lock untouched
        else:
            assert not window.project.read_only and read_lock(folder).pid != holder.pid
    finally:
        holder.communicate("close\n", timeout=60)
