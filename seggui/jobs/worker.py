"""A short job on a thread pool, reporting back to the GUI thread through Qt signals.

The function runs as `function(context, *args, **kwargs)`. It calls
`context.progress(done, total, text)` as it goes and checks `context.cancelled` (or calls
`context.check_cancelled()`, which raises `JobCancelled`) between steps. Exactly one of
`succeeded(result)`, `failed(exception)` or `cancelled()` is then emitted on the GUI
thread, followed by `finished()`.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

# Jobs stay referenced here while they run: Python must not collect a Job whose signals a
# worker thread is about to emit.
_running: set["Job"] = set()
_pool: QThreadPool | None = None


def job_pool() -> QThreadPool:
    """A pool for GUI jobs, separate from Qt's global pool so that other users of that pool
    (image decoding, plugins) never delay a save."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(2)
    return _pool


class JobCancelled(Exception):
    """Raised by `JobContext.check_cancelled` to stop a job that the user cancelled."""


class JobContext:
    """What a running function sees of its job: progress reporting and the cancel flag."""

    def __init__(self, job: "Job"):
        self._job = job

    @property
    def cancelled(self) -> bool:
        return self._job._cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()

    def progress(self, done: int, total: int = 0, text: str = "") -> None:
        """Report progress: `total` 0 means unknown (a busy indicator)."""
        self._job._progress_from_worker.emit(int(done), int(total), str(text))


class _Runnable(QRunnable):
    def __init__(self, job: "Job"):
        super().__init__()
        self.setAutoDelete(True)
        self._job = job

    def run(self) -> None:
        job = self._job
        try:
            result = job._function(JobContext(job), *job._args, **job._kwargs)
        except JobCancelled:
            job._finished_from_worker.emit("cancelled", None)
        except BaseException as error:  # delivered to the GUI, never lost in a thread
            error.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
            job._finished_from_worker.emit("failed", error)
        else:
            outcome = "cancelled" if job._cancel_event.is_set() else "succeeded"
            job._finished_from_worker.emit(outcome, result)
        finally:
            job._done_event.set()


class Job(QObject):
    """One background job. Create on the GUI thread; connect; `start()`."""

    progress = Signal(int, int, str)  # done, total (0 = unknown), text
    succeeded = Signal(object)  # the function's return value
    failed = Signal(object)  # the exception (with .traceback_text)
    cancelled = Signal()
    finished = Signal()  # after any of the three above

    # Emitted from the worker thread; the Job lives on the GUI thread, so Qt queues these
    # to the GUI thread's event loop before the public signals are emitted.
    _progress_from_worker = Signal(int, int, str)
    _finished_from_worker = Signal(str, object)

    def __init__(self, function: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any):
        super().__init__()
        self.name = name or getattr(function, "__name__", "job")
        self._function = function
        self._args = args
        self._kwargs = kwargs
        self._cancel_event = threading.Event()
        self._done_event = threading.Event()
        self._started = False
        self._delivered = False
        self._progress_from_worker.connect(self._relay_progress)
        self._finished_from_worker.connect(self._relay_finished)

    @property
    def is_running(self) -> bool:
        return self._started and not self._delivered

    def start(self) -> "Job":
        if self._started:
            raise RuntimeError(f"job {self.name} was already started")
        self._started = True
        _running.add(self)
        job_pool().start(_Runnable(self))
        return self

    def cancel(self) -> None:
        """Ask the function to stop; it does at its next check."""
        self._cancel_event.set()

    def wait_done(self, timeout_s: float | None = None) -> bool:
        """Block until the function returned (its signals may still be queued)."""
        return self._done_event.wait(timeout_s)

    @Slot(int, int, str)
    def _relay_progress(self, done: int, total: int, text: str) -> None:
        if not self._delivered:
            self.progress.emit(done, total, text)

    @Slot(str, object)
    def _relay_finished(self, outcome: str, value: object) -> None:
        self._delivered = True
        try:
            if outcome == "succeeded":
                self.succeeded.emit(value)
            elif outcome == "failed":
                self.failed.emit(value)
            else:
                self.cancelled.emit()
            self.finished.emit()
        finally:
            _running.discard(self)


def wait_for_all(timeout_s: float = 30.0) -> bool:
    """Wait for every running job's function to return (used when the application quits)."""
    return job_pool().waitForDone(int(timeout_s * 1000))
