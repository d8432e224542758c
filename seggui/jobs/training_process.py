"""Training in a child process (`python -m seggui train --progress jsonl`), driven by QProcess.

A child process rather than a thread: training holds the GIL and several cores for minutes,
and a crash or an out-of-memory kill there must not take the GUI down. QProcess delivers the
child's output through the event loop, so nothing here blocks the GUI thread.

Outcome, reported once through `finished(outcome, message)`:
    done       the child exited 0 after a `done` event (weights and card written)
    cancelled  the user cancelled (SIGTERM, then a kill after a grace period)
    failed     non-zero exit, crash, kill, failure to start, or no `done` event
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

LOG_LINES_KEPT = 500
DEFAULT_GRACE_MS = 15_000  # the child finishes its current step and writes the checkpoint


def train_arguments(out: str | Path, data: Iterable[str], *, base: str | None = None,
                    minutes: float | None = None, epochs: int | None = None, seed: int | None = None,
                    device: str | None = None, learning_rate: float | None = None,
                    crop_size: int | None = None, name: str | None = None,
                    threads: int | None = None, extra: Iterable[str] = ()) -> list[str]:
    """Arguments after `python -m seggui`. `data` is ["--project", P] or ["--images", I, "--masks", M]."""
    arguments = ["train", *[str(part) for part in data], "--out", str(out), "--progress", "jsonl"]
    if base:
        arguments += ["--base", str(base)]
    extra = [str(part) for part in extra]
    if epochs is not None:
        arguments += ["--epochs", str(int(epochs))]
    elif minutes is not None and "--epochs" not in extra:  # an epoch count in `extra` replaces the budget
        arguments += ["--minutes", f"{float(minutes):g}"]
    if seed is not None:
        arguments += ["--seed", str(int(seed))]
    if device:
        arguments += ["--device", device]
    if learning_rate:
        arguments += ["--learning-rate", f"{float(learning_rate):g}"]
    if crop_size:
        arguments += ["--crop-size", str(int(crop_size))]
    if name:
        arguments += ["--name", name]
    if not threads:
        from seggui.ml.inference import default_threads

        threads = default_threads(leave_one_for_gui=True)  # the GUI that starts the child keeps a core
    arguments += ["--threads", str(threads)]
    return arguments + extra


class TrainingProcess(QObject):
    """One training run. Create, connect, `start(arguments)`; `cancel()` to stop it."""

    started = Signal()
    event = Signal(dict)  # one parsed JSON line from stdout: start, epoch, checkpoint, done, error
    log = Signal(str)  # one line of stderr (or of stdout that is not JSON)
    finished = Signal(str, str)  # outcome (done, cancelled, failed), message

    def __init__(self, parent: QObject | None = None, grace_ms: int = DEFAULT_GRACE_MS,
                 program: list[str] | None = None):
        """`program`: what runs before the arguments; `python -m seggui` unless a test gives a
        stand-in child."""
        super().__init__(parent)
        self.grace_ms = grace_ms
        self.program = list(program) if program is not None else [sys.executable, "-m", "seggui"]
        self.arguments: list[str] = []
        self.outcome: str | None = None
        self.message = ""
        self.done_event: dict | None = None
        self.last_checkpoint: str | None = None
        self.log_lines: deque[str] = deque(maxlen=LOG_LINES_KEPT)
        self._error_message: str | None = None
        self._cancel_requested = False
        self._buffers = {"stdout": b"", "stderr": b""}
        self._process = QProcess(self)
        self._process.readyReadStandardOutput.connect(lambda: self._read("stdout"))
        self._process.readyReadStandardError.connect(lambda: self._read("stderr"))
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.kill)

    # -- control ---------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    @property
    def command(self) -> list[str]:
        return [*self.program, *self.arguments]

    def start(self, arguments: list[str], working_directory: str | Path | None = None) -> None:
        if self.is_running or self.outcome is not None:
            raise RuntimeError("a TrainingProcess runs once; create another for a new job")
        self.arguments = list(arguments)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")  # events must arrive as they happen
        # The child must import this same seggui even when it is not installed (a checkout).
        package_root = str(Path(__file__).resolve().parents[2])
        existing = environment.value("PYTHONPATH", "")
        environment.insert("PYTHONPATH", package_root + (os.pathsep + existing if existing else ""))
        self._process.setProcessEnvironment(environment)
        if working_directory is not None:
            self._process.setWorkingDirectory(str(working_directory))
        self._process.start(self.program[0], [*self.program[1:], *self.arguments])
        self.started.emit()

    def cancel(self) -> None:
        """Ask the child to stop (SIGTERM: it keeps its last checkpoint); kill it if it lingers."""
        if not self.is_running:
            return
        self._cancel_requested = True
        self._process.terminate()
        self._kill_timer.start(self.grace_ms)

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the child ended (tests and application exit only)."""
        return self._process.waitForFinished(timeout_ms) or not self.is_running

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(list(self.log_lines)[-lines:])

    # -- output ----------------------------------------------------------------------
    def _read(self, stream: str) -> None:
        if stream == "stdout":
            data = bytes(self._process.readAllStandardOutput().data())
        else:
            data = bytes(self._process.readAllStandardError().data())
        buffered = self._buffers[stream] + data
        *lines, self._buffers[stream] = buffered.split(b"\n")
        for line in lines:
            self._handle_line(stream, line.decode("utf-8", errors="replace").rstrip("\r"))

    def _flush(self) -> None:
        for stream in ("stdout", "stderr"):
            self._read(stream)
            rest, self._buffers[stream] = self._buffers[stream], b""
            if rest.strip():
                self._handle_line(stream, rest.decode("utf-8", errors="replace"))

    def _handle_line(self, stream: str, line: str) -> None:
        if not line.strip():
            return
        if stream == "stdout" and line.lstrip().startswith("{"):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            if isinstance(event, dict) and "event" in event:
                self._remember(event)
                self.event.emit(event)
                return
        self.log_lines.append(line)
        self.log.emit(line)

    def _remember(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "done":
            self.done_event = event
        elif kind == "checkpoint":
            self.last_checkpoint = event.get("path")
        elif kind == "error":
            self._error_message = str(event.get("message", "unknown error"))
            self.log_lines.append(f"error: {self._error_message}")
            self.log.emit(f"error: {self._error_message}")

    # -- end -------------------------------------------------------------------------
    def kill(self) -> None:
        """End the child now (after cancel's grace, or when waiting for it timed out)."""
        if self.is_running:
            self.log_lines.append("the training process did not stop in time; killed")
            self._process.kill()

    def _on_error(self, error: QProcess.ProcessError) -> None:
        # Only a failure to start never reaches `finished`; crashes are handled there.
        if error == QProcess.ProcessError.FailedToStart:
            self._finish("failed", f"could not start {self.program[0]}: {self._process.errorString()}")

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._flush()
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        if self._cancel_requested:
            where = f"; last checkpoint kept at {self.last_checkpoint}" if self.last_checkpoint else ""
            self._finish("cancelled", f"cancelled{where}")
        elif not crashed and exit_code == 0 and self.done_event is not None:
            self._finish("done", "finished")
        else:
            if self._error_message:
                reason = self._error_message
            elif crashed:
                reason = "the training process crashed or was killed"
            else:
                reason = f"the training process exited with code {exit_code}"
            tail = self.log_tail()
            self._finish("failed", reason + (f"\n{tail}" if tail and tail.strip() != reason else ""))

    def _finish(self, outcome: str, message: str) -> None:
        if self.outcome is not None:
            return
        self.outcome, self.message = outcome, message
        self.finished.emit(outcome, message)
