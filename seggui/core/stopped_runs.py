"""Training runs of a project that stopped before their time budget was spent and can continue.

A run cancelled in the Training dock, or cut short when its project closed, keeps its
checkpoint in `<project>/models/<name>/`. It is offered for continuing (`seggui train
--resume`, which counts the minutes already spent) while its folder holds that checkpoint and
the name is not yet a model version.

The catalogue's job record says how the run was started. A project may come from someone
else, so nothing of that record is replayed: only the options a person sets in the Training
dock are read from it, each checked, and the run continues on this project's images into
the folder found here, never into one the record names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from seggui.core import records
from seggui.core.errors import ProjectError
from seggui.core.project_files import models_folder
from seggui.core.safe_files import UnsafePathError, check_not_link, is_identifier, real_folder

CHECKPOINT_NAME = "checkpoint.pt"  # seggui.ml.training writes it after every epoch
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_MINUTES = 24 * 60


@dataclass
class StoppedRun:
    name: str  # the folder's name under models/, also the version name it will get
    out: Path
    job_id: str
    stopped_at: float  # time.time() of the stop
    minutes: float  # the run's whole budget (--minutes counts over resumes)
    minutes_left: float | None  # from its last epoch, when one finished
    options: dict = field(default_factory=dict)  # base, seed, device, learning_rate, crop_size

    def describe(self) -> str:
        left = "" if self.minutes_left is None else f", about {self.minutes_left:.1f} of {self.minutes:g} min left"
        return f"{self.name} stopped before its end{left}"


def _option(command: list, flag: str) -> str | None:
    """The value after the last `flag` in a recorded command, if it is a plain string."""
    value = None
    for index, part in enumerate(command[:-1]):
        if part == flag and isinstance(command[index + 1], str):
            value = command[index + 1]
    return value


def _number(text: str | None, kind, low: float, high: float):
    if text is None:
        return None
    try:
        value = kind(text)
    except (TypeError, ValueError):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if low <= value <= high else None


def _options(command: list) -> dict | None:
    """The dock's options from a recorded `seggui train` command; None when unusable."""
    if "train" not in command or "--minutes" not in command:
        return None
    minutes = _number(_option(command, "--minutes"), float, 0.1, MAX_MINUTES)
    if minutes is None:
        return None
    device = _option(command, "--device") or "auto"
    if device not in DEVICES:
        return None
    return {
        "minutes": minutes,
        "base": _option(command, "--base"),
        "seed": _number(_option(command, "--seed"), int, 0, 2**31 - 1) or 0,
        "device": device,
        "learning_rate": _number(_option(command, "--learning-rate"), float, 1e-7, 0.1),
        "crop_size": _number(_option(command, "--crop-size"), int, 16, 1024),
    }


def _has_checkpoint(folder: Path) -> bool:
    """A real folder (not a link) holding a regular checkpoint file (not a link either)."""
    try:
        check_not_link(real_folder(folder) / CHECKPOINT_NAME, "checkpoint")
    except UnsafePathError:
        return False
    return True


def stopped_runs(connection, project_folder: str | Path) -> list[StoppedRun]:
    """Runs that can continue, the most recently stopped first (see the module docstring)."""
    try:
        models = models_folder(Path(project_folder))
    except ProjectError:  # a models folder that is a link or a file: nothing is offered from it
        return []
    versions = {version.name for version in records.model_versions(connection)}
    latest: dict[str, records.JobRecord] = {}
    for job in records.jobs(connection):  # oldest first: a later job on the same folder decides
        if job.kind != "training" or not isinstance(job.command, list):
            continue
        out = _option(job.command, "--out")
        if out is None:
            continue
        name = Path(out).name
        if is_identifier(name):
            latest[name] = job
    runs = []
    for name, job in latest.items():
        interrupted = job.status == "failed" and (job.log_tail or "").startswith("interrupted")
        if not (job.status == "cancelled" or interrupted) or name in versions:
            continue
        options = _options(job.command)
        folder = models / name
        if options is None or not _has_checkpoint(folder):
            continue
        result = job.result if isinstance(job.result, dict) else {}
        left = _number(result.get("minutes_left"), float, 0.0, MAX_MINUTES) if "minutes_left" in result else None
        minutes = options.pop("minutes")
        runs.append(StoppedRun(name, folder, job.id, float(job.finished or job.started), minutes,
                               None if left is None else min(left, minutes), options))
    return sorted(runs, key=lambda run: -run.stopped_at)
