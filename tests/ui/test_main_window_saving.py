"""Saving from the window: autosave after a pause, save errors reported with edits kept,
Save as to another folder, jobs delivering on the GUI thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QApplication

from seggui.core.project import MASKS_FOLDER, Project
from seggui.jobs import Job
from seggui.ui.main_window import MainWindow
from test_main_window import dialogs, make_project, paint  # noqa: F401  (fixtures and helpers)


@pytest.fixture
def window(qtbot, dialogs):  # noqa: F811
    window = MainWindow(autosave_delay_ms=150)
    qtbot.addWidget(window)
    window.show()
    return window


def saved_labels(folder):
    project, document = Project.open(folder)
    try:
        return document.images[0].label_layers[0].data.copy()
    finally:
        project.close()


def test_autosave_writes_after_the_debounce(window, tmp_path, qtbot):
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    paint(window, value=5)
    assert window.document.dirty
    assert window.windowTitle().startswith("project[*]") and window.isWindowModified()
    with qtbot.waitSignal(window.autosave.saved, timeout=5000):
        pass
    qtbot.waitUntil(lambda: not window.autosave.is_saving)
    assert not window.document.dirty
    assert window.status.save_label.text() == "All changes saved"
    assert (saved_labels(folder)[2:12, 3:20] == 5).all()


def test_edits_during_a_save_stay_dirty_and_are_saved_next(window, tmp_path, qtbot):
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    paint(window, value=5)
    window.autosave.save()  # starts the background write
    paint(window, value=6, rect=(30, 30, 40, 40))  # while it runs
    assert window.document.dirty
    assert window.files.save()
    labels = saved_labels(folder)
    assert (labels[2:12, 3:20] == 5).all() and (labels[30:40, 30:40] == 6).all()


def test_save_error_is_reported_and_edits_stay(window, tmp_path, qtbot, dialogs):  # noqa: F811
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    # An unwritable project: the masks folder replaced by a file (chmod does not stop root).
    masks = folder / MASKS_FOLDER
    for child in masks.iterdir():
        child.unlink()
    masks.rmdir()
    masks.write_text("not a folder")
    paint(window, value=8)
    with qtbot.waitSignal(window.autosave.save_failed, timeout=5000):
        pass
    qtbot.waitUntil(lambda: not window.autosave.is_saving)
    assert window.document.dirty
    assert any("could not be saved" in text and "masks" in text for text in dialogs.shown)
    assert window.status.save_label.text() == "Not saved (error)"
    assert (window.current_image().label_layers[0].data[2:12, 3:20] == 8).all()
    # An explicit Save reports again; Save as elsewhere rescues the edits.
    assert not window.files.save()
    elsewhere = tmp_path / "rescued"
    assert window.files.save_as(elsewhere)
    assert window.project.folder == elsewhere.resolve()
    assert not window.document.dirty
    assert (saved_labels(elsewhere)[2:12, 3:20] == 8).all()
    project, document = Project.open(elsewhere)
    assert len(document.images) == 3  # unloaded images came along too
    project.close()


def test_save_as_keeps_labels_of_images_never_loaded(window, tmp_path):
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    window.menu_actions.next_image.trigger()
    paint(window, value=3)
    assert window.files.save()  # image 1 now has a mask file; images 0 loaded, 2 not
    window.files.open_project(folder)  # reopen: nothing loaded but the first image
    assert window.files.save_as(tmp_path / "copy")
    project, document = Project.open(tmp_path / "copy")
    assert (document.images[1].label_layers[0].data[2:12, 3:20] == 3).all()
    project.close()


def test_job_delivers_result_progress_and_errors_on_gui_thread(qtbot):
    gui_thread = threading.get_ident()
    seen: dict[str, object] = {}

    def work(context, value):
        seen["worker"] = threading.get_ident()
        context.progress(1, 2, "half")
        return value * 2

    job = Job(work, 21)
    job.progress.connect(lambda done, total, text: seen.setdefault("progress", (done, total, text)))
    job.succeeded.connect(lambda result: seen.update(result=result, thread=threading.get_ident()))
    with qtbot.waitSignal(job.finished, timeout=5000):
        job.start()
    assert seen["result"] == 42 and seen["thread"] == gui_thread and seen["worker"] != gui_thread
    assert seen["progress"] == (1, 2, "half")

    failing = Job(lambda context: 1 / 0)
    errors = []
    failing.failed.connect(errors.append)
    with qtbot.waitSignal(failing.finished, timeout=5000):
        failing.start()
    assert isinstance(errors[0], ZeroDivisionError) and "ZeroDivisionError" in errors[0].traceback_text


def test_job_cancel_flag_stops_the_function(qtbot):
    started = threading.Event()

    def loop(context):
        started.set()
        while True:
            context.check_cancelled()
            threading.Event().wait(0.01)

    job = Job(loop)
    outcomes = []
    job.cancelled.connect(lambda: outcomes.append("cancelled"))
    job.succeeded.connect(lambda result: outcomes.append("succeeded"))
    job.start()
    assert started.wait(5)
    with qtbot.waitSignal(job.finished, timeout=5000):
        job.cancel()
    QApplication.processEvents()
    assert outcomes == ["cancelled"]


def test_saving_keeps_labels_of_images_not_loaded_this_session(window, tmp_path):
    folder = make_project(tmp_path)
    window.files.open_project(folder)
    window.menu_actions.next_image.trigger()
    paint(window, value=3)
    assert window.files.save()
    window.files.open_project(folder)  # image 1 is not loaded now
    window.document.set_status(window.document.images[2], "reviewed")
    assert window.files.save()
    project, document = Project.open(folder)
    assert (document.images[1].label_layers[0].data[2:12, 3:20] == 3).all()
    assert document.images[2].status == "reviewed"
    project.close()


def test_opening_after_a_crash_says_what_was_recovered(window, tmp_path):
    from seggui.core import records

    folder = make_project(tmp_path)
    project, _ = Project.open(folder)
    records.start_job(project.connection, "train", ["seggui", "train"])  # running when "the crash" hit
    project.close()
    (folder / MASKS_FOLDER / "0123456789ab-deadbeef.png").write_bytes(b"half of a save")
    assert window.files.open_project(folder)
    message = window.files.recovery_message.text()
    assert "removed 1 file" in message and "interrupted" in message
    assert not (folder / MASKS_FOLDER / "0123456789ab-deadbeef.png").exists()


def test_many_images_are_hashed_in_the_background_with_progress(qtbot, tmp_path, monkeypatch):
    import cv2
    import numpy as np
    from PySide6.QtWidgets import QMessageBox

    from seggui.ui import file_operations
    from seggui.ui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "exec", lambda box: 0)
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(file_operations.BACKGROUND_ADD_FILES + 5):
        cv2.imwrite(str(folder / f"i{index:03d}.png"), np.full((16, 16), index, np.uint8))
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.show()
    assert window.files.new_project(tmp_path / "project")
    progress: list[int] = []
    assert window.files.add_images([folder]) == 0  # returns at once: the work runs on a worker
    job = window.files.add_job
    job.progress.connect(lambda done, total, text: progress.append(done))
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    assert len(window.document.images) == file_operations.BACKGROUND_ADD_FILES + 5
    assert progress  # reported as it went
    window.document.mark_clean()


def test_large_images_load_on_a_worker_and_show_when_ready(qtbot, tmp_path, monkeypatch):
    import threading

    from seggui.core import project as project_module
    from seggui.ui import main_window as main_window_module
    from seggui.ui.main_window import MainWindow

    monkeypatch.setattr(main_window_module, "BACKGROUND_LOAD_BYTES", 0)  # every file counts as large
    threads: list[str] = []
    real_read = project_module.read_image

    def recording_read(*args, **kwargs):  # the project reads an image's pixels when it loads it
        threads.append(threading.current_thread().name)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(project_module, "read_image", recording_read)
    window = MainWindow(autosave_delay_ms=60_000)
    qtbot.addWidget(window)
    window.show()
    folder = make_project(tmp_path, count=3)
    window.files.open_project(folder)
    qtbot.waitUntil(lambda: window.current_image() is window.document.images[0], timeout=10_000)
    second, third = window.document.images[1], window.document.images[2]
    window.image_list.set_current_image(second)
    window.image_list.set_current_image(third)  # asked for before the second finished loading
    qtbot.waitUntil(lambda: window.current_image() is third, timeout=10_000)
    assert window.canvas.entry is third
    assert threads and threading.main_thread().name not in threads  # never read on the GUI thread
    window.document.mark_clean()


def test_removing_an_unreadable_image_says_its_labels_cannot_come_back(tmp_path):
    import numpy as np

    from seggui.core.paint import change_command
    from seggui.core.project import Project
    from seggui.ui.remove_images import confirmation_text

    folder = make_project(tmp_path, count=2)
    project, document = Project.open(folder)
    layer = document.images[0].label_layers[0]
    document.undo_stack.push(change_command(layer, (0, 0, 5, 5), np.full((5, 5), 3, layer.data.dtype), "paint"),
                             execute=True)
    project.save(document)
    project.close()
    document.images[0].source.path.unlink()  # the image file went away
    project, document = Project.open(folder)
    text = confirmation_text([document.images[0]])
    assert "cannot be read now" in text and "(1 cells)" in text
    assert "cannot be read" not in confirmation_text([document.images[1]])
    project.close()
