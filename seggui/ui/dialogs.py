"""Small dialogs: the shortcut list, error reports, the unsaved-changes question and a
progress dialog bound to a background job."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QProgressDialog,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from seggui.core import logs
from seggui.core.errors import SegguiError
from seggui.jobs import Job

# (section, key sequence as shown, what it does). The single source for Help > Shortcuts;
# the actions and the canvas use the same keys.
SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("Tools", "B", "Brush: paint the current label"),
    ("Tools", "E", "Eraser"),
    ("Tools", "F", "Fill a region with the current label"),
    ("Tools", "P", "Polygon: click points, close to fill"),
    ("Tools", "I or K", "Pick the label under the cursor"),
    ("Tools", "Delete", "Delete-instance tool: click an instance to remove it"),
    ("Tools", "M", "Merge instances: click the one to keep, then the one to merge"),
    ("Tools", "X", "Erase region: drag a rectangle (Alt: lasso) to clear labels"),
    ("Tools", "C", "Set class: click an instance to give it the current class"),
    ("Tools", "S", "Split cell: click once in each part, then Enter (one click: split at the neck); or drag a line across it"),
    ("Tools", "A", "Add cell: click on background to add the cell found there"),
    ("Tools", "O", "Box a cell: drag a box around a missed cell to add it"),
    ("Tools", "[ and ]", "Smaller / larger brush"),
    ("Tools", "Shift + brush stroke", "Start a new instance (next free label id)"),
    ("Tools", "Shift+N", "New instance: make the next free label id current"),
    ("Tools", "Shift+B", "Paint only on background (preserve other cells)"),
    ("Tools", "Enter / Esc / Backspace", "Polygon: close / cancel / remove the last point"),
    ("Tools", "Enter / Esc", "Split: split at the clicks / cancel"),
    ("View", "Space + drag", "Pan"),
    ("View", "Mouse wheel", "Zoom at the cursor"),
    ("View", "Ctrl+0", "Fit the image to the window"),
    ("View", "Ctrl+1", "Zoom 1:1 (one image pixel per screen pixel)"),
    ("Edit", "Ctrl+Z", "Undo"),
    ("Edit", "Ctrl+Shift+Z or Ctrl+Y", "Redo"),
    ("Images", "R", "Mark the current image reviewed / not reviewed"),
    ("Images", "N", "Next image not yet reviewed"),
    ("Images", "Page Down", "Next image"),
    ("Images", "Page Up", "Previous image"),
    ("Review queue", "D", "Next doubtful cell (least confident not verified), centred and zoomed"),
    ("Review queue", "V", "Mark the selected cell verified / not verified"),
    ("Review queue", "Shift+Del", "Delete the selected cell"),
    ("File", "Ctrl+N", "New project"),
    ("File", "Ctrl+O", "Open project"),
    ("File", "Ctrl+Shift+O", "Add images or a folder to the project"),
    ("File", "Ctrl+S", "Save"),
    ("File", "Ctrl+Shift+S", "Save the project to another folder"),
    ("File", "Ctrl+Q", "Quit"),
    ("Help", "F1", "This list of shortcuts"),
)


class ShortcutsDialog(QDialog):
    """Help > Shortcuts: every key, grouped by what it acts on."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(SHORTCUTS), 3, self)
        self.table.setHorizontalHeaderLabels(["Group", "Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        for row, (group, keys, action) in enumerate(SHORTCUTS):
            for column, text in enumerate((group, keys, action)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(680, 560)


# Errors that are not seggui's own, said in words (the traceback goes to the log).
_PLAIN_CAUSES = {
    MemoryError: "There is not enough memory for this",
    RecursionError: "The data is nested too deeply to read",
    UnicodeError: "The text is not in a readable encoding",
}


def error_text(error: BaseException) -> str:
    """What the user reads: our own errors already name the file; others get their cause in
    words, never a Python type name alone or a traceback."""
    if isinstance(error, SegguiError):
        return str(error)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}"
    for kind, cause in _PLAIN_CAUSES.items():
        if isinstance(error, kind):
            return f"{cause}." + (f" ({error})" if str(error) else "")
    message = str(error).strip().strip("'\"")
    if message:
        return f"Something went wrong: {message}"
    return "Something unexpected went wrong (this is a bug in seggui; please report it)."


def show_error(parent: QWidget | None, title: str, error: BaseException | str, advice: str = "") -> QMessageBox:
    """A modal error report: the cause in words. The error (with its traceback) is written to
    the log file, which the box names; the traceback itself shows under Show Details only
    with `seggui --debug`. Returns the box once it is closed (tests read it)."""
    where = logs.log_error(title, error)
    box = QMessageBox(QMessageBox.Icon.Warning, title,
                      error if isinstance(error, str) else error_text(error),
                      QMessageBox.StandardButton.Ok, parent)
    informative = [advice] if advice else []
    if where is not None and isinstance(error, BaseException):
        informative.append(f"Details were written to the log: {where}")
    if informative:
        box.setInformativeText("\n\n".join(informative))
    details = logs.traceback_text(error) if isinstance(error, BaseException) else ""
    if details and logs.debug_enabled():
        box.setDetailedText(details)
    box.exec()
    return box


def ask_unsaved_changes(parent: QWidget | None, what: str = "this project") -> str:
    """Ask before losing edits. Returns "save", "discard" or "cancel"."""
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        f"{what[0].upper()}{what[1:]} has changes that are not saved yet.\nSave them before closing?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Save,
    )
    if answer == QMessageBox.StandardButton.Save:
        return "save"
    if answer == QMessageBox.StandardButton.Discard:
        return "discard"
    return "cancel"


class JobProgressDialog(QProgressDialog):
    """A progress dialog that follows a job and cancels it when the user presses Cancel.

    It opens only when the job takes longer than half a second, so quick jobs never flash.
    """

    def __init__(self, job: Job, title: str, parent: QWidget | None = None):
        super().__init__(title, "Cancel", 0, 0, parent)
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(500)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self._job = job
        self.canceled.connect(job.cancel)
        job.progress.connect(self._on_progress)
        # Close on the outcome signals, not `finished`: the caller's result box opens from
        # `succeeded`/`failed`, which come first, and this dialog would stay on top of it.
        # These connections are made before the caller's, so they run first.
        for signal in (job.succeeded, job.failed, job.cancelled):
            signal.connect(self._job_ended)
        job.finished.connect(self.deleteLater)

    def _job_ended(self, *args) -> None:
        self.canceled.disconnect(self._job.cancel)  # closing emits canceled; the job is over
        self.reset()
        self.hide()

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.setMaximum(max(total, 0))
        self.setValue(min(done, total) if total else 0)
        if text:
            self.setLabelText(text)
