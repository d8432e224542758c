"""A job running now and recorded in a project's catalogue (seggui.core.records).

The Model panel's batch pre-segmentation and the Training dock both start a job, keep its
record while it runs, and write its outcome when it ends. While it runs the user may close
the project or open another one; only the project that started the job may be written then
(a closed project's catalogue cannot be, and another project's must not be), so `finish`
makes that check for both.

    job = RunningJob.start(project, "presegment", command)
    ...
    job.finish(window.project, "done", {"applied": 3}, None)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seggui.core import records


@dataclass
class RunningJob:
    project: Any  # the seggui.core.project.Project that started the job
    job_id: str
    kind: str  # presegment, training (records.JobRecord.kind)
    started: float  # time.monotonic() at the start (the Training dock resets it when the child starts)
    name: str = ""  # what the job makes, e.g. the new model version's name
    out: Path | None = None  # the folder it writes, where it writes one

    @classmethod
    def start(cls, project, kind: str, command: list[str], name: str = "", out: Path | None = None) -> "RunningJob":
        """Record a job as running in `project`'s catalogue and return it."""
        job_id = records.start_job(project.connection, kind, command)
        return cls(project, job_id, kind, time.monotonic(), name, out)

    def finish(self, current_project, status: str, result: dict[str, Any] | None = None,
               log_tail: str | None = None) -> bool:
        """Write the job's outcome if its project is still the open one (`current_project`);
        returns whether it wrote."""
        if current_project is not self.project:
            return False
        records.finish_job(self.project.connection, self.job_id, status, result, log_tail)
        return True
