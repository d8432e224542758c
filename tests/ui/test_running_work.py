"""Closing a project or the window while a training run or a batch pre-segmentation runs:
the person is asked, "Keep working" leaves the work running, "Stop and close" stops it and
waits for it while the project is open, so the project records it as cancelled (not as cut
short by a crash at the next opening) and no child process or worker outlives the window."""

from __future__ import annotations

import functools
import sys
import textwrap
import time

import pytest
from PySide6.QtWidgets import QMessageBox

from seggui.core import records
from seggui.core.project import Project
from seggui.core.training_set import TrainingMaterial
from seggui.jobs.training_process import TrainingProcess
from seggui.ui import model_panel as model_panel_module
from seggui.ui import training_dock as training_dock_module
from seggui.ui.main_window import MainWindow
from seggui.ui.model_docks import install_model_docks

from test_model_panel import make_project  # noqa: E402 - tests/ui is on sys.path

# A stand-in for `python -m seggui train`: reports its start, then trains until SIGTERM, when
# it reports its checkpoint and exits as the real child does.
CHILD = textwrap.dedent("""
    import json, signal, sys, time
    def stop(*_):
        print(json.dumps({"event": "checkpoint", "path": "checkpoint.pt"}), flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"event": "start", "train_images": 1, "val_images": 1, "device": "cpu"}), flush=True)
    while True:
        time.sleep(0.05)
""")


def answer(monkeypatch, choice: str, asked: list) -> None:
    """Answer the running-work question with the button named `choice`; record its text."""
    def exec_box(box):
        asked.append(box.text())
        return 0

    def clicked(box):
        return next(b for b in box.buttons() if b.text() == choice)

    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    monkeypatch.setattr(QMessageBox, "clickedButton", clicked)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.model_panel, window.training_dock = install_model_docks(window)
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    window.show()
    window.project_folder = folder
    yield window
    dock = window.training_dock
    if dock.is_running:
        dock.process.kill()
        dock.process.wait(5_000)


def start_training(window, tmp_path, monkeypatch, qtbot):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    monkeypatch.setattr(training_dock_module, "TrainingProcess",
                        functools.partial(TrainingProcess, program=[sys.executable, str(script)]))
    monkeypatch.setattr(window.training_dock, "material", lambda: TrainingMaterial(1, 0, 0))
    assert window.training_dock.start()
    qtbot.waitUntil(lambda: window.training_dock.status_label.text().startswith("Training on"), timeout=20_000)


def job_statuses(folder) -> list[str]:
    project, _ = Project.open(folder)
    try:
        return [(job.kind, job.status) for job in records.jobs(project.connection)]
    finally:
        project.close()


def test_quitting_during_training_asks_and_keep_working_leaves_it_running(window, tmp_path, monkeypatch, qtbot):
    start_training(window, tmp_path, monkeypatch, qtbot)
    asked = []
    answer(monkeypatch, "Keep working", asked)
    assert not window.close()
    assert asked and "A training run is still running" in asked[0]
    assert window.training_dock.is_running and window.project is not None


def test_stop_and_close_cancels_the_run_and_records_it_before_the_window_closes(window, tmp_path, monkeypatch,
                                                                              qtbot):
    start_training(window, tmp_path, monkeypatch, qtbot)
    process = window.training_dock.process
    answer(monkeypatch, "Stop and close", [])
    assert window.close()
    assert not process.is_running and process.outcome == "cancelled"
    assert "checkpoint.pt" in process.message
    assert ("training", "cancelled") in job_statuses(window.project_folder)


def test_opening_another_project_during_training_asks_too(window, tmp_path, monkeypatch, qtbot):
    (tmp_path / "other").mkdir()
    other = make_project(tmp_path / "other")
    start_training(window, tmp_path, monkeypatch, qtbot)
    asked = []
    answer(monkeypatch, "Keep working", asked)
    assert not window.files.open_project(other)
    assert asked and window.training_dock.is_running
    assert window.project.folder.resolve() == window.project_folder.resolve()


def slow_predict(context, model, tasks, options=None, deliver=None, device="auto", threads=None):
    """A batch that takes a while per image and stops at the cancel check, as predict_images does."""
    for _ in range(400):
        context.check_cancelled()
        time.sleep(0.01)
    return []


def test_closing_during_a_batch_asks_then_stops_it_and_records_it(window, monkeypatch, qtbot):
    monkeypatch.setattr(model_panel_module, "predict_images", slow_predict)
    panel = window.model_panel
    panel.predict_new_images()
    assert panel.running and panel.running_batch
    asked = []
    answer(monkeypatch, "Stop and close", asked)
    assert window.close()
    assert "A batch pre-segmentation is still running" in asked[0]
    assert not panel.running
    assert ("presegment", "cancelled") in job_statuses(window.project_folder)


def test_nothing_running_asks_nothing(window, monkeypatch):
    asked = []
    answer(monkeypatch, "Keep working", asked)
    assert window.close() and not asked


def test_save_as_during_training_asks_too(window, tmp_path, monkeypatch, qtbot):
    start_training(window, tmp_path, monkeypatch, qtbot)
    asked = []
    answer(monkeypatch, "Keep working", asked)
    assert not window.files.save_as(tmp_path / "copy")
    assert asked and window.training_dock.is_running
    assert not (tmp_path / "copy").exists()
    answer(monkeypatch, "Stop and close", asked)
    assert window.files.save_as(tmp_path / "copy")
    assert not window.training_dock.is_running
    assert ("training", "cancelled") in job_statuses(window.project_folder)
