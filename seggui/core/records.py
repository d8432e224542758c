"""Model versions and job history kept in a project's catalogue.

A fine-tuned model version is a folder (weights + card) the catalogue names; one version
is active. Jobs (training, batch pre-segmentation) are recorded with their outcome so a
failed or cancelled run can be explained later.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seggui.core import catalogue as cat
from seggui.core.safe_files import UnsafePathError, contained_path, is_inside


@dataclass(frozen=True)
class ModelVersion:
    id: str
    name: str
    path: str
    created: float
    card: dict[str, Any]
    active: bool


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    started: float
    finished: float | None
    status: str  # running, done, failed, cancelled
    command: list[str]
    result: dict[str, Any] | None
    log_tail: str | None


def add_model_version(connection, name: str, path: str, card: dict[str, Any], activate: bool = False) -> ModelVersion:
    version_id = uuid.uuid4().hex[:12]
    created = time.time()
    with cat.transaction(connection):
        if activate:
            connection.execute("UPDATE models SET active=0")
        connection.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)",
                           (version_id, name, path, created, cat.dumps(card), int(activate)))
    return ModelVersion(version_id, name, path, created, card, activate)


def model_versions(connection) -> list[ModelVersion]:
    rows = connection.execute("SELECT * FROM models ORDER BY created").fetchall()
    return [ModelVersion(r["id"], r["name"], r["path"], r["created"], cat.loads(r["card"], {}), bool(r["active"]))
            for r in rows]


def version_folder(version: ModelVersion, project_folder: str | Path) -> Path:
    """The version's model folder, refused (UnsafePathError) unless it lies inside the project.

    A catalogue arrives with the project, so a row naming an absolute path, a `../` path or
    a link to elsewhere must not make seggui load (or train from) a model outside it.
    """
    project_folder = Path(project_folder)
    path = Path(version.path) if isinstance(version.path, str) else None
    if path is not None and path.is_absolute() and is_inside(project_folder, path):
        return path  # absolute, but inside the project
    try:
        return contained_path(project_folder, version.path, "model version")
    except UnsafePathError:
        raise UnsafePathError(f"model version {version.name!r} at {version.path!r} is outside the project",
                              project_folder) from None


def set_active_model(connection, version_id: str | None) -> None:
    """Make one version active (None: no project version; the bundled model is used)."""
    with cat.transaction(connection):
        connection.execute("UPDATE models SET active=0")
        if version_id is not None:
            updated = connection.execute("UPDATE models SET active=1 WHERE id=?", (version_id,)).rowcount
            if updated != 1:
                raise KeyError(f"no model version {version_id!r} in this project")


def start_job(connection, kind: str, command: list[str]) -> str:
    job_id = uuid.uuid4().hex[:12]
    with cat.transaction(connection):
        connection.execute("INSERT INTO jobs (id, kind, started, status, command) VALUES (?, ?, ?, 'running', ?)",
                           (job_id, kind, time.time(), cat.dumps(command)))
    return job_id


def finish_job(connection, job_id: str, status: str, result: dict[str, Any] | None = None,
               log_tail: str | None = None) -> None:
    if status not in ("done", "failed", "cancelled"):
        raise ValueError(f"unknown job status {status!r}")
    with cat.transaction(connection):
        connection.execute("UPDATE jobs SET finished=?, status=?, result=?, log_tail=? WHERE id=?",
                           (time.time(), status, None if result is None else cat.dumps(result), log_tail, job_id))


def jobs(connection) -> list[JobRecord]:
    rows = connection.execute("SELECT * FROM jobs ORDER BY started").fetchall()
    return [JobRecord(r["id"], r["kind"], r["started"], r["finished"], r["status"], cat.loads(r["command"], []),
                      cat.loads(r["result"], None), r["log_tail"]) for r in rows]


def mark_interrupted_jobs(connection) -> list[str]:
    """Jobs still 'running' when a project opens were cut short by a crash: say so."""
    rows = connection.execute("SELECT id FROM jobs WHERE status='running'").fetchall()
    for row in rows:
        finish_job(connection, row["id"], "failed", log_tail="interrupted: seggui stopped while the job ran")
    return [row["id"] for row in rows]
