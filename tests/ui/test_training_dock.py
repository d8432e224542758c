"""The Training dock in a real main window, running real (tiny) training child processes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from seggui.core import records
from seggui.ui.main_window import MainWindow
from seggui.ui.model_docks import install_model_docks

from test_model_panel import make_project  # noqa: E402 - tests/ui is on sys.path (rootdir-relative import)
from test_training_process import TINY, write_pairs


@pytest.fixture
def setup(qtbot, tmp_path):
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.files.open_project(make_project(tmp_path, 2))
    panel, dock = install_model_docks(window)
    window.show()
    yield window, panel, dock
    if dock.is_running:
        dock.process.cancel()
        dock.process.wait()
    if window.document is not None:
        window.document.mark_clean()


def test_start_is_disabled_with_an_explanation_without_reviewed_images(setup):
    window, panel, dock = setup
    assert not dock.start_button.isEnabled()
    assert "No reviewed images" in dock.images_label.text()
    assert dock.minutes_spin.value() == 3.0
    window.document.set_status(window.document.images[0], "reviewed")
    assert dock.start_button.isEnabled()
    assert "All reviewed images (1)" in dock.images_label.text()
    window.document.undo_stack.undo()
    assert not dock.start_button.isEnabled()


@pytest.mark.slow
def test_real_job_adds_a_version_then_a_cancelled_job_adds_none(setup, qtbot, tmp_path):
    window, panel, dock = setup
    images, masks = write_pairs(tmp_path / "data")
    dock.data_arguments = ["--images", str(images), "--masks", str(masks)]  # until --project lands
    dock.extra_arguments = [*TINY, "--threads", "1", "--epochs", "1"]  # replaces the minutes budget
    window.document.set_status(window.document.images[0], "reviewed")
    dock.minutes_spin.setValue(0.1)
    dock.crop_spin.setValue(32)
    if any(m.name == "nuclei" for m in dock.bases):  # the bundled model is the default base
        assert dock.base_combo.currentData() == "nuclei"
    dock.base_combo.setCurrentIndex(dock.base_combo.findData(""))  # tiny from scratch: fast
    events = []

    with qtbot.waitSignal(dock.job_finished, timeout=120_000) as finished:
        qtbot.mouseClick(dock.start_button, Qt.MouseButton.LeftButton)
        assert not window.document.dirty  # saved before the child reads it
        assert dock.cancel_button.isEnabled() and not dock.start_button.isEnabled()
        dock.process.event.connect(events.append)
    assert finished.args[0] == "done", finished.args[1]
    assert [e["event"] for e in events][0] == "start" and any(e["event"] == "epoch" for e in events)
    assert f"(cpu, {events[0]['precision']})" in dock.log_view.toPlainText()  # the arithmetic it runs
    assert dock.plot.epochs and dock.progress_bar.value() == dock.progress_bar.maximum()
    versions = records.model_versions(window.project.connection)
    assert len(versions) == 1 and not versions[0].active
    assert "new version" in dock.status_label.text()
    assert panel.versions_list.count() == 1
    # Listed, neither active nor selected: training never changes the model that pre-segments.
    assert panel.selected_model().name == "nuclei" and not panel.choice_label.text()
    assert window.status.model_label.text() == "model: nuclei (bundled)"
    job = records.jobs(window.project.connection)[-1]
    assert job.kind == "training" and job.status == "done"

    def cancel_on_first_epoch(event):
        if event["event"] == "epoch":
            dock.cancel()

    with qtbot.waitSignal(dock.job_finished, timeout=120_000) as finished:
        dock.minutes_spin.setValue(5)
        dock.extra_arguments = [*TINY, "--threads", "1"]
        assert dock.start()
        dock.process.event.connect(cancel_on_first_epoch)
    assert finished.args[0] == "cancelled"
    assert "no new version" in dock.status_label.text()
    assert len(records.model_versions(window.project.connection)) == 1
    assert records.jobs(window.project.connection)[-1].status == "cancelled"
    assert dock.start_button.isEnabled()  # a new job can start

    # The cancelled run kept its checkpoint: the dock offers to continue it, with its own options.
    stopped_name = records.jobs(window.project.connection)[-1].command[
        records.jobs(window.project.connection)[-1].command.index("--name") + 1]
    assert dock.stopped_widget.isVisibleTo(dock) and stopped_name in dock.stopped_label.text()
    assert "Continue trains on" in dock.status_label.text()
    dock.crop_spin.setValue(64)  # the dock's settings are for new runs, not for the stopped one
    dock.extra_arguments = [*TINY, "--threads", "1", "--epochs", "2"]  # end after one more epoch
    continued = []
    with qtbot.waitSignal(dock.job_finished, timeout=120_000) as finished:
        qtbot.mouseClick(dock.continue_button, Qt.MouseButton.LeftButton)
        assert not dock.stopped_widget.isVisibleTo(dock)
        dock.process.event.connect(continued.append)
    assert finished.args[0] == "done", finished.args[1]
    command = records.jobs(window.project.connection)[-1].command
    assert "--resume" in command and command[command.index("--crop-size") + 1] == "32"
    assert command[command.index("--out") + 1] == str(window.project.folder / "models" / stopped_name)
    assert continued[0]["resumed_from_epoch"] >= 1
    versions = records.model_versions(window.project.connection)
    assert [v.name for v in versions][-1] == stopped_name
    assert not dock.stopped_widget.isVisibleTo(dock)


@pytest.mark.slow
def test_a_stopped_run_can_be_discarded(setup, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window, panel, dock = setup
    images, masks = write_pairs(tmp_path / "data")
    dock.data_arguments = ["--images", str(images), "--masks", str(masks)]
    dock.extra_arguments = [*TINY, "--threads", "1"]
    window.document.set_status(window.document.images[0], "reviewed")
    dock.base_combo.setCurrentIndex(dock.base_combo.findData(""))
    dock.crop_spin.setValue(32)
    dock.minutes_spin.setValue(5)
    with qtbot.waitSignal(dock.job_finished, timeout=120_000):
        assert dock.start()
        dock.process.event.connect(lambda event: event["event"] == "epoch" and dock.cancel())
    assert dock.stopped_widget.isVisibleTo(dock)
    folder = dock._stopped[0].out
    assert (folder / "checkpoint.pt").is_file()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert not dock.discard_stopped() and folder.is_dir()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert dock.discard_stopped()
    assert not folder.exists() and not dock.stopped_widget.isVisibleTo(dock)
    assert "Deleted the stopped run" in dock.status_label.text()
