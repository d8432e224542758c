"""Crash safety: SIGKILL at random moments, recovery on open, and saves that fail (disk full, read-only)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seggui.core import catalogue as cat
from seggui.core import records
from seggui.core.document import Document
from seggui.core.errors import ProjectError
from seggui.core.paint import StrokeRecorder
from seggui.core.project import MASKS_FOLDER, Project

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, *arguments: str, timeout: float) -> subprocess.CompletedProcess:
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", module, *arguments], cwd=REPO_ROOT, env=environment,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash harness forks (POSIX only)")
def test_sigkill_sixty_times_loses_nothing_saved(tmp_path):
    result = run_module("tests.reliability.crash_harness", "--kills", "60", "--seed", "7",
                        "--workdir", str(tmp_path), timeout=150)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["kills"] == figures["recoveries"] == 60
    # The seeded schedule must really hit the save window, not only idle editing.
    assert figures["kills_during_save"] >= 5, figures
    assert figures["kills_during_autosave"] >= 5, figures
    assert figures["orphans_removed"] > 0 and figures["jobs_marked_interrupted"] == 60
    assert figures["final_edit_on_disk"] > 100  # progress was really saved across rounds


# -- recovery report ---------------------------------------------------------------------

def make_project(folder: Path, images: int = 1) -> tuple[Project, Document]:
    import cv2

    (folder / "images").mkdir(parents=True)
    for index in range(images):
        cv2.imwrite(str(folder / "images" / f"image{index}.png"), np.full((32, 40), 10 * index, np.uint8))
    project = Project.create(folder / "project")
    document = Document()
    project.add_images(document, [folder / "images"])
    return project, document


def paint(document: Document, value: int, x: float = 10, y: float = 10) -> None:
    layer = document.images[0].label_layers[0]
    recorder = StrokeRecorder(layer, value=value, radius=3)
    recorder.add_point(x, y)
    document.undo_stack.push(recorder.finish())


def test_clean_open_reports_nothing(tmp_path):
    project, document = make_project(tmp_path)
    paint(document, 1)
    project.save(document)
    project.close()
    reopened, _ = Project.open(tmp_path / "project")
    assert reopened.recovery.is_empty and reopened.recovery.sentence() == ""


def test_open_after_crash_says_what_it_recovered(tmp_path):
    project, document = make_project(tmp_path)
    paint(document, 1)
    project.save(document)
    job = records.start_job(project.connection, "training", ["train"])
    masks = project.folder / MASKS_FOLDER
    (masks / "deadbeef-12345678.png").write_bytes(b"written by a save that never committed")
    (masks / ".deadbeef-0badf00d.png.abc123.tmp").write_bytes(b"half an atomic write")
    (masks / "notes.txt").write_bytes(b"a file seggui did not write: never deleted")
    # No close(): like a kill, the write-ahead log is left for the next open to replay.
    reopened, reopened_document = Project.open(tmp_path / "project")
    report = reopened.recovery
    assert report.orphan_masks_removed == ["deadbeef-12345678.png"]
    assert report.temporary_files_removed == [".deadbeef-0badf00d.png.abc123.tmp"]
    assert report.interrupted_jobs == [job]
    assert report.journal_replayed
    sentence = report.sentence()
    assert "not closed normally" in sentence and "2 files" in sentence and "1 job" in sentence
    named = [row["mask_file"] for row in cat.layer_rows(reopened.connection) if row["mask_file"]]
    assert named and sorted(p.name for p in masks.iterdir()) == sorted([*named, "notes.txt"])  # what the catalogue names
    assert [j.status for j in records.jobs(reopened.connection)] == ["failed"]
    assert reopened_document.images[0].label_layers[0].data.max() == 1
    assert not reopened.integrity_problems()


# -- saves that fail -------------------------------------------------------------------

def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _read_only(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied")


def _folder_state(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / MASKS_FOLDER).iterdir())}


@pytest.mark.parametrize("failure, target", [
    (_disk_full, "seggui.core.atomic.os.fsync"),  # the disk fills while the mask file is written
    (_read_only, "seggui.core.atomic.tempfile.mkstemp"),  # the folder became read-only
    (_disk_full, "seggui.core.atomic.os.replace"),
])
def test_failed_save_keeps_old_files_and_edits_and_save_as_works(tmp_path, monkeypatch, failure, target):
    project, document = make_project(tmp_path, images=2)
    document.images[1].layers  # loaded, and later unloaded: save_as must still carry its labels
    paint(document, 1)
    project.save(document)
    document.images[1].unload()
    before = _folder_state(project.folder)
    rows_before = [dict(r) for r in project.connection.execute("SELECT * FROM layers ORDER BY id")]
    paint(document, 2, x=25, y=20)
    edited = document.images[0].label_layers[0].data.copy()

    with monkeypatch.context() as patch:
        patch.setattr(target, failure)
        with pytest.raises(ProjectError) as caught:
            project.save(document)
    message = str(caught.value)
    assert str(project.folder / MASKS_FOLDER) in message, message  # names the path
    assert ("No space left" in message) or ("Permission denied" in message)
    assert _folder_state(project.folder) == before  # no debris, old mask intact
    assert [dict(r) for r in project.connection.execute("SELECT * FROM layers ORDER BY id")] == rows_before
    assert document.dirty and np.array_equal(document.images[0].label_layers[0].data, edited)

    other = project.save_as(document, tmp_path / "elsewhere")
    assert not document.dirty
    other.close()
    saved, saved_document = Project.open(tmp_path / "elsewhere")
    assert not saved.integrity_problems()
    assert np.array_equal(saved_document.images[0].label_layers[0].data, edited)
    assert len(saved_document.images) == 2 and saved_document.images[1].label_layers
    # The old project still holds the last good save.
    project.close()
    old, old_document = Project.open(tmp_path / "project")
    assert old_document.images[0].label_layers[0].data.max() == 1
