"""The Model panel's state, without Qt: the proposal on screen and one prediction run.

A single image's result becomes a `Proposal` the user accepts or discards. A run (one
image, or a batch of all new images) keeps its bookkeeping in a `PredictionRun` as results
arrive on the GUI thread, and says at the end what happened (`summary`) and writes the
batch's job record (`finish`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seggui.core.running_job import RunningJob


@dataclass(frozen=True)
class Proposal:
    """A model's labels for one image, shown over it until accepted or discarded."""

    image_id: str
    labels: np.ndarray  # instance labels, image-sized
    model: str  # the model's name as the panel lists it (the accepted image's status names it)
    scores: dict[int, float] = field(default_factory=dict)  # cell id -> confidence

    @property
    def count(self) -> int:
        """The number of cells proposed (labels other than background)."""
        labels = self.labels
        return int(len(np.unique(labels)) - (1 if (labels == 0).any() else 0))


@dataclass
class PredictionRun:
    """One pre-segmentation job's bookkeeping, from start to its summary."""

    # The model's name as listed when the run started, fixed then: the combo may change
    # while the job runs.
    model: str
    batch: bool = False  # all new images, each result accepted as it arrives
    job: RunningJob | None = None  # the batch's catalogue record, when a project is open
    cancel_requested: bool = False  # results still queued are then dropped, not applied
    applied: int = 0
    skipped: list[str] = field(default_factory=list)  # images a person began editing during the batch
    failures: list[str] = field(default_factory=list)  # "name: error" for each image that failed

    def outcome(self, reported: str) -> str:
        """The run's outcome for the user: done, cancelled or failed."""
        if self.cancel_requested and reported == "done":
            # The worker finished before it saw the cancel; its queued results were dropped,
            # so for the user the run was cancelled.
            return "cancelled"
        return reported

    def finish(self, current_project, outcome: str, message: str) -> bool:
        """Write the batch's job record (only into the project that started it: another one
        may be open by now); returns whether it wrote."""
        job, self.job = self.job, None
        if job is None:
            return False
        status = {"done": "done", "cancelled": "cancelled"}.get(outcome, "failed")
        return job.finish(current_project, status, {"applied": self.applied, "failed": self.failures},
                          message or None)

    def summary(self, outcome: str, message: str) -> str:
        """What the panel says when the run ended with `outcome` (see `outcome`)."""
        if self.batch:
            text = f"Pre-segmented {self.applied} image(s)"
            if self.skipped:
                text += (f"; left {len(self.skipped)} alone that were edited meanwhile "
                         f"({', '.join(self.skipped[:5])})")
            if outcome == "cancelled":
                text += "; cancelled"
        else:
            text = {"done": "", "cancelled": "Cancelled."}.get(outcome, "")
        if outcome == "failed":
            text = f"Failed: {message}"
        if self.failures:
            text += f"\n{len(self.failures)} failed:\n" + "\n".join(self.failures)
        return text.strip()
