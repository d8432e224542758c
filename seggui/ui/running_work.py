"""Work that runs while a project is open (a batch pre-segmentation, a training run) and
what closing the project, opening another or quitting does to it.

Closing used to cancel such work without a word: a person who pressed Ctrl+Q two minutes
into a training run lost it, the child was killed with the window, and the next opening
reported the run as "cut short by a crash". Now the person is asked first, and the work is
stopped and waited for while its project is still open, so its outcome ("cancelled") is
recorded in the project and no worker thread or child process outlives the window.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox


def running_work(window) -> list[str]:
    """What runs now, in words ("a training run", "a batch pre-segmentation"), or []."""
    work = []
    dock, panel = window.training_dock, window.model_panel  # None until the model docks exist
    if dock is not None and dock.is_running:
        work.append("a training run")
    if panel is not None and panel.running:
        work.append("a batch pre-segmentation" if panel.running_batch else "a pre-segmentation")
    return work


def ask_stop_running_work(window, work: list[str]) -> bool:
    """Whether the person agrees to stop `work` (True when nothing runs)."""
    if not work:
        return True
    what = " and ".join(work)
    box = QMessageBox(QMessageBox.Icon.Question, "Work is still running",
                      f"{what[0].upper()}{what[1:]} {'is' if len(work) == 1 else 'are'} still running. "
                      f"Closing the project stops {'it' if len(work) == 1 else 'them'}.", parent=window)
    details = []
    if "a training run" in work:
        details.append("The training run is cancelled: no new model version is added and the "
                       "active model stays as it is.")
    if len(work) > 1 or "a training run" not in work:
        details.append("Pre-segmentations already applied stay (each is one undo step); the "
                       "images not reached stay as they are.")
    box.setInformativeText(" ".join(details))
    stop = box.addButton("Stop and close", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep working", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.exec()
    return box.clickedButton() is stop


def stop_running_work(window) -> None:
    """Stop what runs and wait until each job has ended and been recorded in its project
    (the caller shows a wait cursor meanwhile)."""
    if not running_work(window):
        return
    window.status.showMessage("Stopping the running work…")
    QGuiApplication.processEvents()  # show the message and cursor before blocking
    if window.model_panel is not None:
        window.model_panel.stop()
    if window.training_dock is not None:
        window.training_dock.stop()
