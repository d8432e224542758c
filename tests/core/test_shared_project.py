"""Two openers of one project (two windows, two colleagues on a shared drive), and threads.

Seen: A marks image 0 reviewed and saves; B, opened before, edits image 1 and saves; reopened,
image 0 was "new" again. Now opening takes a lock, a second opener is told who holds it, and a
save writes only the rows its session changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from seggui.core import records
from seggui.core.document import Document
from seggui.core.paint import change_command
from seggui.core.project import Project
from seggui.core.project_lock import LOCK_NAME, ProjectLockedError, read_lock

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def make_project(tmp_path: Path, images: int = 3) -> Path:
    (tmp_path / "images").mkdir()
    for index in range(images):
        cv2.imwrite(str(tmp_path / "images" / f"img{index}.png"), np.full((24, 32), 40 + index, np.uint8))
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, [tmp_path / "images"])
    project.save(document)
    project.close()
    return tmp_path / "project"


def paint(document: Document, index: int, value: int) -> None:
    layer = document.images[index].label_layers[0]
    document.undo_stack.push(change_command(layer, (2, 2, 8, 8), np.full((6, 6), value, layer.data.dtype), "paint"),
                             execute=True)


HOLDER = textwrap.dedent("""
    import sys
    from seggui.core.project import Project
    project, document = Project.open(sys.argv[1])
    document.set_status(document.images[0], "reviewed")
    project.save(document)
    print("ready", flush=True)
    sys.stdin.readline()  # hold the project open until told to close
    project.close()
    print("closed", flush=True)
""")


def test_a_second_opener_is_told_who_holds_the_project_and_may_open_read_only(tmp_path):
    folder = make_project(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(ProjectLockedError) as caught:
            Project.open(folder)
        assert caught.value.holder.pid == holder.pid and not caught.value.holder.is_stale
        assert f"process {holder.pid}" in str(caught.value) and "read-only" in str(caught.value)
        project, document = Project.open(folder, read_only=True)
        assert document.images[0].status == "reviewed"  # sees what the holder saved
        paint(document, 1, 5)
        with pytest.raises(Exception, match="read-only"):
            project.save(document)
        project.close()
        assert read_lock(folder).pid == holder.pid  # a read-only opener never touches the lock
    finally:
        holder.communicate("close\n", timeout=60)
    assert not (folder / LOCK_NAME).exists()  # released on close
    project, document = Project.open(folder)
    assert read_lock(folder).pid == os.getpid()
    project.close()


def test_a_lock_left_by_a_crashed_seggui_is_taken_over(tmp_path):
    folder = make_project(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    lock = {"host": os.uname().nodename, "pid": pid, "user": "someone", "since": time.time() - 60,
            "refreshed": time.time() - 60, "token": "f" * 32, "app_version": "0"}
    (folder / LOCK_NAME).write_text(json.dumps(lock))
    project, _ = Project.open(folder)
    assert read_lock(folder).pid == os.getpid()
    project.close()


def test_two_writers_never_revert_each_others_rows(tmp_path):
    folder = make_project(tmp_path)
    first, first_document = Project.open(folder)
    second, second_document = Project.open(folder, take_over=True)  # two writers, knowingly
    first_document.set_status(first_document.images[0], "reviewed")
    first.save(first_document)
    paint(second_document, 1, 7)  # B edits image 1 and saves, from its stale view of image 0
    second.save(second_document)
    first.close()
    second.close()
    project, document = Project.open(folder)
    assert document.images[0].status == "reviewed"
    assert int(document.images[1].label_layers[0].data.max()) == 7
    assert not project.integrity_problems()
    project.close()


def test_autosave_writes_while_the_gui_thread_records_jobs_and_versions(tmp_path):
    folder = make_project(tmp_path)
    project, document = Project.open(folder)
    errors: list[BaseException] = []
    snapshots = []
    for value in range(1, 21):
        paint(document, value % 3, value)
        snapshots.append(project.snapshot(document))

    def autosave() -> None:
        try:
            for snapshot in snapshots:
                project.write(snapshot)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    worker = threading.Thread(target=autosave)
    worker.start()
    jobs = []
    for index in range(40):  # the model panel and training dock, on this (the GUI) thread
        job = records.start_job(project.connection, "presegment", ["x", str(index)])
        records.finish_job(project.connection, job, "done", {"applied": index})
        jobs.append(job)
        if index % 10 == 0:
            records.add_model_version(project.connection, f"v{index}", f"models/v{index}", {"name": "v"})
    worker.join(60)
    assert not errors, errors
    assert [j.id for j in records.jobs(project.connection) if j.status == "done"] == jobs
    assert len(records.model_versions(project.connection)) == 4
    project.close()
    reopened, again = Project.open(folder)
    assert not reopened.integrity_problems()
    assert int(again.images[20 % 3].label_layers[0].data.max()) == 20
    reopened.close()
