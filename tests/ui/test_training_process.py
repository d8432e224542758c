"""TrainingProcess: a real `python -m seggui train` child driven through QProcess."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QTimer

from seggui.jobs.training_process import TrainingProcess, train_arguments

TINY = ["--width", "4", "--depth", "2", "--crops-per-epoch", "8", "--batch-size", "4"]


def write_pairs(folder: Path, count: int = 2, shape=(64, 80)) -> tuple[Path, Path]:
    """Images of bright disks on noise and their instance label PNGs, named alike."""
    images, masks = folder / "images", folder / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for index in range(count):
        rng = np.random.default_rng(index)
        labels = np.zeros(shape, np.uint16)
        for label in range(1, 4):
            cy, cx = rng.integers(12, shape[0] - 12), rng.integers(12, shape[1] - 12)
            labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= 64] = label
        image = np.clip(40 + 150 * (labels > 0) + rng.normal(0, 8, shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(images / f"img{index}.png"), image)
        cv2.imwrite(str(masks / f"img{index}.png"), labels)
    return images, masks


class TickRecorder:
    """The longest gap between ticks of a 10 ms timer: how long the event loop stalled."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.longest = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.longest = max(self.longest, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def run(qtbot, process: TrainingProcess, arguments: list[str], timeout_ms: int = 120_000) -> list[dict]:
    events = []
    process.event.connect(events.append)
    with qtbot.waitSignal(process.finished, timeout=timeout_ms):
        process.start(arguments)
    return events


def test_short_job_reports_events_finishes_done_and_never_stalls_the_gui(qtbot, tmp_path):
    images, masks = write_pairs(tmp_path / "data")
    out = tmp_path / "model"
    process = TrainingProcess()
    ticks = TickRecorder()
    ticks.start()
    events = run(qtbot, process, train_arguments(out, ["--images", images, "--masks", masks], epochs=1,
                                                 crop_size=32, threads=1, extra=TINY))
    ticks.stop()
    kinds = [event["event"] for event in events]
    assert kinds[0] == "start" and "epoch" in kinds and kinds[-1] == "done", (kinds, process.log_tail())
    assert process.outcome == "done", process.message
    assert (out / "weights.pt").is_file() and (out / "card.json").is_file()
    assert ticks.ticks > 50
    assert ticks.longest < 0.1, f"event loop stalled {ticks.longest * 1000:.0f} ms"


def test_bad_masks_folder_fails_with_the_message(qtbot, tmp_path):
    images, _ = write_pairs(tmp_path / "data", 1)
    process = TrainingProcess()
    outcomes = []
    process.finished.connect(lambda outcome, message: outcomes.append((outcome, message)))
    run(qtbot, process, train_arguments(tmp_path / "model", ["--images", images, "--masks", tmp_path / "nowhere"],
                                        epochs=1, threads=1, extra=TINY))
    assert outcomes and outcomes[0][0] == "failed"
    assert "mask folder not found" in outcomes[0][1]
    assert process.log_tail()  # stderr kept as log


def test_a_child_that_cannot_run_fails_with_its_last_log_lines(qtbot, tmp_path):
    process = TrainingProcess()
    run(qtbot, process, ["no-such-subcommand"])
    assert process.outcome == "failed"
    assert "exited with code" in process.message and "invalid choice" in process.message


@pytest.mark.slow
def test_cancel_ends_cancelled_keeping_a_loadable_checkpoint(qtbot, tmp_path):
    from seggui.ml.registry import load_model

    images, masks = write_pairs(tmp_path / "data")
    out = tmp_path / "model"
    process = TrainingProcess(grace_ms=60_000)
    process.event.connect(lambda event: event["event"] == "checkpoint" and process.cancel())
    run(qtbot, process, train_arguments(out, ["--images", images, "--masks", masks], minutes=5, crop_size=32,
                                        threads=1, extra=TINY))
    assert process.outcome == "cancelled", process.message
    assert process.last_checkpoint and Path(process.last_checkpoint).is_file()
    assert "checkpoint" in process.message
    assert load_model(out, device="cpu").predict(np.zeros((32, 32), np.uint8)).labels.shape == (32, 32)


def test_cancel_kills_a_child_that_ignores_sigterm(qtbot, tmp_path):
    # `python -m seggui` with a subcommand that never returns and ignores SIGTERM is hard to
    # arrange; a stand-in child shows the same: terminate, wait the grace period, kill.
    process = TrainingProcess(grace_ms=200, program=[
        sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"])
    process.start([])
    qtbot.waitUntil(lambda: bool(process.log_lines) and process.log_lines[-1] == "ready", timeout=20_000)
    with qtbot.waitSignal(process.finished, timeout=20_000):
        process.cancel()
    assert process.outcome == "cancelled"
