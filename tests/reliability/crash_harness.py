"""Kill a real seggui process with SIGKILL at random moments and check that nothing saved is lost.

Run as a script (the tests and benchmarks/reliability.py do) so that the campaign lives in a
fresh interpreter with only seggui's core imported:

    python -m tests.reliability.crash_harness --kills 60 --seed 7

Each round forks a child that opens the project (exercising crash recovery), records a
running job, then makes scripted brush strokes and saves them, explicitly (Project.save on
the editing thread) or as the GUI's autosave does (snapshot on the editing thread, write on
a worker thread while editing continues). The child prints a line after every edit and
every confirmed save; the parent kills it with SIGKILL at a seeded random moment: while
editing, right after an explicit save starts, or right after an autosave starts (the child
pauses between writing mask files and committing the catalogue to widen that window).

After each kill the parent opens the project and checks: integrity (the catalogue names
mask files that exist and decode), no leftover temporary or orphan files, every edit the
child confirmed as saved is on disk, and the disk holds exactly the state after some
edit j (no torn saves, across images). Edit k writes label k, so j is the largest label.
Fork (not spawn) keeps each round cheap; a forked child is still a separate process that
SIGKILL stops without running any cleanup.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

from seggui.core import records
from seggui.core.document import Document
from seggui.core.layers import LabelLayer
from seggui.core.paint import StrokeRecorder
from seggui.core.project import MASKS_FOLDER, PAUSE_BEFORE_COMMIT_VARIABLE, Project

IMAGE_SHAPE = (48, 64)
IMAGE_COUNT = 2
EDITS_PER_SAVE = 6  # the autosave interval, counted in edits
EDIT_PAUSE_S = 0.003  # between edits: a fast user
PAUSE_BEFORE_COMMIT_S = 0.03


# -- the scripted edits ------------------------------------------------------------------

def edit_image_index(k: int) -> int:
    return k % IMAGE_COUNT


def apply_edit(layer: LabelLayer, k: int):
    """Edit k: a short brush stroke of label k at a position derived from k alone."""
    generator = random.Random(k)
    height, width = layer.shape
    points = [(generator.uniform(0, width), generator.uniform(0, height)) for _ in range(3)]
    recorder = StrokeRecorder(layer, value=k, radius=generator.uniform(1.5, 4.0))
    for x, y in points:
        recorder.add_point(x, y)
    return recorder.finish()


class ExpectedState:
    """The label arrays after edits 1..j, advanced incrementally (the disk never goes back)."""

    def __init__(self):
        self.edit = 0
        self.layers = [LabelLayer.empty(IMAGE_SHAPE) for _ in range(IMAGE_COUNT)]

    def advance_to(self, j: int) -> list[np.ndarray]:
        if j < self.edit:
            raise AssertionError(f"the disk went back from edit {self.edit} to edit {j}")
        for k in range(self.edit + 1, j + 1):
            apply_edit(self.layers[edit_image_index(k)], k)
        self.edit = j
        return [layer.data for layer in self.layers]


# -- the child ---------------------------------------------------------------------------

def _say(fd: int, text: str) -> None:
    os.write(fd, (text + "\n").encode())  # one write per line: lines from two threads never mix


def _label_layer(entry) -> LabelLayer:
    return entry.label_layers[0]


def child_main(folder: Path, mode: str, fd: int) -> None:
    os.environ[PAUSE_BEFORE_COMMIT_VARIABLE] = str(PAUSE_BEFORE_COMMIT_S)
    project, document = Project.open(folder)
    records.start_job(project.connection, "crash-test", ["edit", mode])
    layers = [_label_layer(entry) for entry in document.images]
    edit = max(layer.max_id for layer in layers)
    _say(fd, f"ready {edit}")
    writing = threading.Event()

    def write(snapshot, upto: int) -> None:
        try:
            project.write(snapshot)
            _say(fd, f"saved {upto}")
        finally:
            writing.clear()

    since_save = 0
    while True:
        edit += 1
        command = apply_edit(layers[edit_image_index(edit)], edit)
        if command is not None:
            document.undo_stack.push(command)
        _say(fd, f"edit {edit}")
        since_save += 1
        if since_save >= EDITS_PER_SAVE:
            if mode == "explicit":
                _say(fd, f"saving {edit}")
                project.save(document)
                _say(fd, f"saved {edit}")
                since_save = 0
            elif not writing.is_set():  # autosave: one write at a time, as AutosaveController does
                snapshot = project.snapshot(document)
                document.mark_clean()
                writing.set()
                _say(fd, f"autosaving {edit}")
                threading.Thread(target=write, args=(snapshot, edit), daemon=True).start()
                since_save = 0
        time.sleep(EDIT_PAUSE_S)


def _fork_child(folder: Path, mode: str) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        code = 1
        try:
            child_main(folder, mode, write_fd)
        except BaseException:
            _say(write_fd, "error " + traceback.format_exc().replace("\n", " | "))
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


# -- the parent --------------------------------------------------------------------------

class LineReader:
    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""
        self.lines: list[str] = []
        self.closed = False

    def pump(self, timeout: float) -> list[str]:
        """Read what arrives within `timeout` seconds; returns the new complete lines."""
        new: list[str] = []
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(remaining, 0))
            if not ready:
                break
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.closed = True
                break
            self.buffer += chunk
            *complete, self.buffer = self.buffer.split(b"\n")
            new.extend(line.decode() for line in complete)
            if remaining <= 0:
                break
        self.lines.extend(new)
        return new

    def wait_for(self, prefix: str, count: int, timeout: float) -> bool:
        seen = sum(1 for line in self.lines if line.startswith(prefix))
        deadline = time.monotonic() + timeout
        while seen < count and time.monotonic() < deadline and not self.closed:
            for line in self.pump(0.05):
                if line.startswith("error"):
                    raise RuntimeError(f"crash-test child failed: {line}")
                seen += line.startswith(prefix)
        return seen >= count


def create_project(folder: Path) -> None:
    import cv2

    images = folder / "images"
    images.mkdir(parents=True)
    generator = np.random.default_rng(0)
    for index in range(IMAGE_COUNT):
        cv2.imwrite(str(images / f"cells{index}.png"), generator.integers(0, 255, IMAGE_SHAPE, dtype=np.uint8))
    project = Project.create(folder / "project")
    document = Document()
    project.add_images(document, [images])
    for entry in document.images:
        entry.layers  # loads: an empty label layer is created and saved with the image
    project.save(document)
    project.close()


def verify(folder: Path, expected: ExpectedState, confirmed: int) -> dict:
    """Open after a kill and check everything; returns what was found (raises on a failure)."""
    project, document = Project.open(folder)
    try:
        report = project.recovery
        problems = project.integrity_problems()
        if problems:
            raise AssertionError(f"integrity check failed: {problems}")
        masks = folder / MASKS_FOLDER
        leftovers = sorted(p.name for p in masks.iterdir() if p.name.endswith(".tmp"))
        if leftovers:
            raise AssertionError(f"temporary files left after recovery: {leftovers}")
        arrays = [_label_layer(entry).data for entry in document.images]
        on_disk = max(int(a.max()) for a in arrays)
        if on_disk < confirmed:
            raise AssertionError(f"edits up to {confirmed} were confirmed saved, the disk holds {on_disk}")
        for index, (found, wanted) in enumerate(zip(arrays, expected.advance_to(on_disk))):
            if not np.array_equal(found, wanted):
                raise AssertionError(f"image {index}: the disk is not the state after edit {on_disk} (torn save)")
        running = [job for job in records.jobs(project.connection) if job.status == "running"]
        if running:
            raise AssertionError(f"jobs still marked running after recovery: {running}")
        return {"on_disk": on_disk, "recovered": report.recovered, "sentence": report.sentence(),
                "orphans": len(report.orphan_masks_removed) + len(report.temporary_files_removed),
                "jobs": len(report.interrupted_jobs), "journal": report.journal_replayed}
    finally:
        project.close()


def run_campaign(workdir: Path, kills: int, seed: int) -> dict:
    """Kill `kills` children at seeded random moments; returns the figures (raises on a failure)."""
    workdir = Path(workdir)
    create_project(workdir)
    folder = workdir / "project"
    generator = random.Random(seed)
    expected = ExpectedState()
    figures = {"kills": 0, "recoveries": 0, "kills_during_save": 0, "kills_during_autosave": 0,
               "kills_while_editing": 0, "reports_with_repairs": 0, "orphans_removed": 0,
               "jobs_marked_interrupted": 0, "journals_replayed": 0, "edits_made": 0,
               "edits_lost_max": 0, "edits_per_autosave": EDITS_PER_SAVE, "sample_sentence": ""}
    started = time.monotonic()
    for round_number in range(kills):
        target = generator.choice(["edit", "save", "autosave"])
        mode = {"save": "explicit", "autosave": "autosave"}.get(target, generator.choice(["explicit", "autosave"]))
        pid, fd = _fork_child(folder, mode)
        reader = LineReader(fd)
        try:
            if not reader.wait_for("ready", 1, timeout=20):
                raise AssertionError(f"round {round_number}: the child did not open the project: {reader.lines[-3:]}")
            if target == "edit":
                reader.pump(generator.uniform(0.0, 0.15))
            else:
                prefix = "saving" if target == "save" else "autosaving"
                if not reader.wait_for(prefix, generator.randint(1, 3), timeout=20):
                    raise AssertionError(f"round {round_number}: no {prefix} line: {reader.lines[-3:]}")
                # 0 .. 1.5x the pause: before, inside and just after the catalogue commit.
                time.sleep(generator.uniform(0.0, PAUSE_BEFORE_COMMIT_S * 1.5))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            while not reader.closed:
                reader.pump(1.0)
            os.close(fd)
        lines = reader.lines
        errors = [line for line in lines if line.startswith("error")]
        if errors:
            raise AssertionError(f"round {round_number}: the child failed before the kill: {errors[0]}")
        figures["kills"] += 1
        starts = [line for line in lines if line.startswith(("saving", "autosaving"))]
        saved = [int(line.split()[1]) for line in lines if line.startswith("saved")]
        if starts and int(starts[-1].split()[1]) not in saved:
            figures["kills_during_autosave" if starts[-1].startswith("auto") else "kills_during_save"] += 1
        else:
            figures["kills_while_editing"] += 1
        edits = [int(line.split()[1]) for line in lines if line.startswith("edit")]
        ready = int(lines[0].split()[1])
        confirmed = max(saved, default=ready)
        found = verify(folder, expected, confirmed)
        figures["recoveries"] += 1
        figures["edits_made"] += len(edits)
        figures["edits_lost_max"] = max(figures["edits_lost_max"], max(edits, default=ready) - found["on_disk"])
        figures["reports_with_repairs"] += found["recovered"]
        figures["orphans_removed"] += found["orphans"]
        figures["jobs_marked_interrupted"] += found["jobs"]
        figures["journals_replayed"] += found["journal"]
        if found["orphans"] and not figures["sample_sentence"]:
            figures["sample_sentence"] = found["sentence"]
    figures["final_edit_on_disk"] = expected.edit
    figures["seconds"] = round(time.monotonic() - started, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, required=True)
    arguments = parser.parse_args(argv)
    figures = run_campaign(arguments.workdir, arguments.kills, arguments.seed)
    print(json.dumps({"benchmark": "crash", **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
