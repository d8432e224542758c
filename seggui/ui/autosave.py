"""Saving without freezing the window: snapshot on the GUI thread, write on a worker.

Edits start a debounce timer; when the user pauses (5 s by default) the project is saved.
The document is marked clean when the snapshot is taken, so an edit made while the write
runs makes it dirty again (and schedules the next save); a failed write marks it dirty
again, the edits stay in memory and the user is told (they can Save As elsewhere).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from seggui.core.document import Document
from seggui.core.project import Project, SaveSnapshot
from seggui.jobs import Job, JobContext

DEFAULT_DELAY_MS = 5000


def _write(context: JobContext, project: Project, snapshot: SaveSnapshot) -> SaveSnapshot:
    context.progress(0, 0, f"Saving {project.folder.name}")
    project.write(snapshot)
    return snapshot


class AutosaveController(QObject):
    """Owns every save of one project: automatic (debounced), explicit and on close."""

    saving_started = Signal()
    saved = Signal()
    save_failed = Signal(object)  # the exception
    state_changed = Signal(str)  # short text for the status bar

    def __init__(self, project: Project, document: Document, delay_ms: int = DEFAULT_DELAY_MS,
                 enabled: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.project = project
        self.document = document
        self.enabled = enabled and not project.read_only  # a read-only project is never written
        self.last_error: BaseException | None = None
        self._job: Job | None = None
        self._save_again = False  # a save was requested while one was running
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.save)
        document.undo_stack.changed.connect(self._on_edit)
        document.dirty_changed.connect(self._on_dirty_changed)
        self._emit_state()

    def detach(self) -> None:
        """Stop observing the document (the project is being closed)."""
        self._timer.stop()
        self.document.undo_stack.changed.disconnect(self._on_edit)
        self.document.dirty_changed.disconnect(self._on_dirty_changed)

    @property
    def delay_ms(self) -> int:
        return self._timer.interval()

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        self._timer.setInterval(int(value))

    @property
    def is_saving(self) -> bool:
        return self._job is not None

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled and not self.project.read_only
        if enabled and self.document.dirty:
            self._timer.start()
        elif not enabled:
            self._timer.stop()

    # -- triggers --------------------------------------------------------------------
    def _on_edit(self) -> None:
        if self.enabled and self.document.dirty:
            self._timer.start()  # restarting the timer is the debounce

    def _on_dirty_changed(self, dirty: bool) -> None:
        if dirty and self.enabled:
            self._timer.start()
        self._emit_state()

    # -- saving ----------------------------------------------------------------------
    def save(self) -> None:
        """Save in the background now (no-op when nothing changed)."""
        self._timer.stop()
        if self._job is not None:
            self._save_again = True
            return
        if not self.document.dirty:
            return
        try:
            snapshot = self.project.snapshot(self.document)
        except Exception as error:  # e.g. out of memory copying a huge layer
            self._fail(error)
            return
        self.document.mark_clean()
        self._job = Job(_write, self.project, snapshot, name="save")
        self._job.succeeded.connect(self._on_written)
        self._job.failed.connect(self._fail)
        self._job.finished.connect(self._on_job_finished)
        self.saving_started.emit()
        self.state_changed.emit("Saving…")
        self._job.start()

    def save_blocking(self, timeout_s: float = 120.0) -> bool:
        """Save and wait for it (explicit Save, closing). Returns whether everything is on disk."""
        self._timer.stop()
        deadline = time.monotonic() + timeout_s
        if not self._wait_for_job(deadline):
            return False
        self._save_again = False
        if not self.document.dirty:
            return True
        self.last_error = None
        self.save()
        if self._job is None:  # the snapshot itself failed
            return False
        return self._wait_for_job(deadline) and self.last_error is None and not self.document.dirty

    def wait_idle(self, timeout_s: float = 120.0) -> bool:
        """Wait for a save in progress (if any) to finish."""
        return self._wait_for_job(time.monotonic() + timeout_s)

    def _wait_for_job(self, deadline: float) -> bool:
        from PySide6.QtCore import QCoreApplication

        while self._job is not None:
            if time.monotonic() > deadline:
                return False
            self._job.wait_done(0.05)
            # The result reaches this thread as a queued signal: let it be delivered.
            QCoreApplication.processEvents()
        return True

    def _on_written(self, snapshot: SaveSnapshot) -> None:
        self.last_error = None
        # The write counted each saved image's instances; show them in the image list.
        counts = {row["id"]: row["instance_count"] for row in snapshot.image_rows}
        for entry in self.document.images:
            if entry.id in counts:
                entry.instance_count = counts[entry.id]
        self.saved.emit()

    def _fail(self, error: BaseException) -> None:
        self.last_error = error
        self.document.mark_dirty()  # the edits are still only in memory
        self.save_failed.emit(error)

    def _on_job_finished(self) -> None:
        self._job = None
        self._emit_state()
        if self._save_again and self.last_error is None:
            self._save_again = False
            self.save()
        elif self.document.dirty and self.enabled and self.last_error is None:
            self._timer.start()

    @property
    def state_text(self) -> str:
        """The save state in a few words for the status bar (what `state_changed` carries)."""
        if self.project.read_only:
            return "Read-only (another seggui holds the project): Save As to keep changes"
        if self._job is not None:
            return "Saving…"
        if self.last_error is not None:
            return "Not saved (error)"
        if self.document.dirty:
            return "Unsaved changes"
        return "All changes saved"

    def _emit_state(self) -> None:
        self.state_changed.emit(self.state_text)
