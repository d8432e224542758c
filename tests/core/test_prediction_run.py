"""The Model panel's Qt-free state: the proposal, a run's summary and job record, the batch plan."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from seggui.core import records
from seggui.core.batch_plan import BatchPlan
from seggui.core.prediction_run import PredictionRun, Proposal
from seggui.core.project import Project
from seggui.core.running_job import RunningJob


def test_proposal_counts_cells_not_background():
    labels = np.array([[0, 1, 1], [0, 2, 5]], np.uint16)
    assert Proposal("a", labels, "classic").count == 3
    assert Proposal("a", np.array([[1, 2]]), "classic").count == 2  # no background at all


def test_batch_summary_names_skipped_cancelled_and_failed_images():
    run = PredictionRun("v1", batch=True, applied=2, skipped=[f"s{i}" for i in range(7)],
                        failures=["b.png: unreadable"])
    assert run.summary("cancelled", "") == (
        "Pre-segmented 2 image(s); left 7 alone that were edited meanwhile (s0, s1, s2, s3, s4); cancelled"
        "\n1 failed:\nb.png: unreadable")
    assert PredictionRun("v1", batch=True).summary("done", "") == "Pre-segmented 0 image(s)"
    assert PredictionRun("v1", batch=True, applied=1).summary("failed", "no model") == "Failed: no model"


def test_single_summary_and_a_late_cancel():
    run = PredictionRun("classic")
    assert run.outcome("done") == "done" and run.summary("done", "") == ""
    run.cancel_requested = True  # the worker finished before it saw the cancel
    assert run.outcome("done") == "cancelled" and run.outcome("failed") == "failed"
    assert run.summary(run.outcome("done"), "") == "Cancelled."


def test_the_job_record_is_written_only_into_the_project_that_started_it(tmp_path):
    first, second = Project.create(tmp_path / "first"), Project.create(tmp_path / "second")
    try:
        job = RunningJob.start(first, "presegment", ["classic", "a.png"])
        assert job.kind == "presegment" and job.started > 0
        run = PredictionRun("classic", batch=True, job=job, applied=1, failures=["b: bad"])
        assert not run.finish(second, "done", "")  # another project is open by now
        assert records.jobs(first.connection)[-1].status == "running" and not records.jobs(second.connection)

        job = RunningJob.start(first, "presegment", ["classic"])
        run = PredictionRun("classic", batch=True, job=job, applied=1, failures=["b: bad"])
        assert run.finish(first, "cancelled", "")
        record = records.jobs(first.connection)[-1]
        assert record.id == job.job_id and record.status == "cancelled"
        assert record.result == {"applied": 1, "failed": ["b: bad"]} and record.log_tail is None
        assert run.job is None and not run.finish(first, "done", "")  # written once
        assert RunningJob.start(first, "training", []).finish(first, "failed", None, "log") is True
        assert records.jobs(first.connection)[-1].log_tail == "log"
    finally:
        first.close()
        second.close()


def layer(layer_id: str, data: np.ndarray, version: int = 0):
    return SimpleNamespace(id=layer_id, data=data, version=version)


def entry(status: str, layers=(), loaded: bool = True, instance_count: int = 0):
    return SimpleNamespace(status=status, problem=None, loaded=loaded, label_layers=list(layers),
                           instance_count=instance_count)


def test_the_batch_plan_rescans_a_layer_only_when_its_version_moves():
    plan = BatchPlan()
    painted = layer("l1", np.zeros((4, 4), np.uint16))
    assert not plan.layer_has_labels(painted)
    painted.data[0, 0] = 3  # pixels changed without a new version: the cached answer stands
    assert not plan.layer_has_labels(painted)
    painted.version += 1
    assert plan.layer_has_labels(painted)
    assert plan.holds_labels(entry("new", loaded=False, instance_count=2))  # counted at the last save


def test_the_batch_plan_says_what_it_will_do():
    plan = BatchPlan()
    assert plan.describe(None, True) == "No image is marked new."
    document = SimpleNamespace(images=[entry("new", [layer("a", np.ones((2, 2)))]), entry("new"),
                                       entry("edited"), entry("reviewed"), entry("predicted")])
    assert len(plan.new_images(document)) == 2
    assert plan.describe(document, True) == ("2 new image(s) get a proposal; 1 already hold labels and get it "
                                             "only where nothing is labelled. 2 edited or reviewed image(s) "
                                             "are left alone.")
    document.images = [entry("new")]
    assert plan.describe(document, False) == "1 new image(s) get a proposal where nothing is labelled."
    assert plan.describe(document, True) == "1 new image(s) get a proposal."
