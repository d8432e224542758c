"""Which stopped training runs a project offers to continue, and what of their record is used."""

from __future__ import annotations

import os

import pytest

from seggui.core import records
from seggui.core.project import Project
from seggui.core.stopped_runs import stopped_runs


@pytest.fixture
def project(tmp_path):
    project = Project.create(tmp_path / "p")
    yield project
    project.close()


def command(out, minutes="3", *extra):
    return ["-m", "seggui", "train", "--project", "P", "--out", str(out), "--progress", "jsonl",
            "--base", "nuclei", "--minutes", minutes, "--seed", "4", "--device", "cpu", "--crop-size", "160",
            "--name", "x", "--threads", "1", *extra]


def stop(project, name, status="cancelled", out=None, result=None, log_tail=None, checkpoint=True,
         minutes="3", extra=()):
    folder = project.folder / "models" / name
    folder.mkdir(parents=True, exist_ok=True)
    if checkpoint:
        (folder / "checkpoint.pt").write_bytes(b"state")
    job = records.start_job(project.connection, "training", command(out or folder, minutes, *extra))
    if status == "running":
        return job
    records.finish_job(project.connection, job, status, result, log_tail)
    return job


def names(project):
    return [run.name for run in stopped_runs(project.connection, project.folder)]


def test_a_cancelled_run_with_its_checkpoint_is_offered_with_its_options(project):
    job = stop(project, "nuclei-ft-1", result={"minutes_left": 1.25})
    (run,) = stopped_runs(project.connection, project.folder)
    assert run.name == "nuclei-ft-1" and run.job_id == job and run.out == project.folder / "models" / "nuclei-ft-1"
    assert run.minutes == 3.0 and run.minutes_left == 1.25
    assert run.options == {"base": "nuclei", "seed": 4, "device": "cpu", "learning_rate": None, "crop_size": 160}
    assert "about 1.2 of 3 min left" in run.describe()


def test_the_newest_stop_comes_first_and_a_finished_or_registered_run_is_not_offered(project):
    stop(project, "a")
    stop(project, "b")
    assert names(project) == ["b", "a"]
    stop(project, "a", status="done")  # continued to its end later
    records.add_model_version(project.connection, "b", "models/b", {})
    assert names(project) == []


def test_an_interrupted_run_is_offered_a_failed_one_is_not(project):
    job = stop(project, "cut", status="running")
    records.mark_interrupted_jobs(project.connection)
    stop(project, "broken", status="failed", log_tail="error: diverged")
    assert names(project) == ["cut"]
    assert records.jobs(project.connection)[0].id == job


def test_nothing_is_offered_without_a_real_checkpoint_in_a_real_folder(project, tmp_path):
    stop(project, "no-checkpoint", checkpoint=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "checkpoint.pt").write_bytes(b"x")
    os.symlink(elsewhere, project.folder / "models" / "linked")
    records.finish_job(project.connection, records.start_job(
        project.connection, "training", command(project.folder / "models" / "linked")), "cancelled")
    stop(project, "linked-checkpoint", checkpoint=False)
    os.symlink(elsewhere / "checkpoint.pt", project.folder / "models" / "linked-checkpoint" / "checkpoint.pt")
    assert names(project) == []


def test_a_crafted_record_never_names_the_folder_or_options(project, tmp_path):
    outside = tmp_path / "outside" / "victim"
    # The recorded --out points outside: only its last part is a name, looked up under models/.
    stop(project, "victim", out=outside)
    (run,) = stopped_runs(project.connection, project.folder)
    assert run.out == project.folder / "models" / "victim"
    for bad in ("inf", "-1", "nan", "1e9", "three"):
        stop(project, f"minutes-{bad.replace('.', '')}", minutes=bad)
    stop(project, "device", extra=["--device", "/bin/sh"])
    for name in ("..", "a b"):
        records.finish_job(project.connection, records.start_job(
            project.connection, "training", command(project.folder / "models" / name)), "cancelled")
    records.finish_job(project.connection, records.start_job(project.connection, "training", "not a list"),
                       "cancelled")
    assert names(project) == ["victim"]


def test_a_models_folder_that_is_a_link_offers_nothing(tmp_path):
    project = Project.create(tmp_path / "q")
    try:
        target = tmp_path / "target"
        (target / "run").mkdir(parents=True)
        (target / "run" / "checkpoint.pt").write_bytes(b"x")
        os.symlink(target, project.folder / "models")
        records.finish_job(project.connection, records.start_job(
            project.connection, "training", command(project.folder / "models" / "run")), "cancelled")
        assert names(project) == []
    finally:
        project.close()
