"""The project catalogue: one SQLite file (WAL mode) listing images, layers, classes,
statuses, model versions and jobs. Label pixels live in separate lossless files."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from seggui import __version__
from seggui.core.catalogue_check import FORMAT_VERSION, check_format
from seggui.core.errors import ProjectError

CATALOGUE_NAME = "seggui-project.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, name TEXT NOT NULL,
    path_relative TEXT, path_absolute TEXT NOT NULL,
    height INTEGER NOT NULL, width INTEGER NOT NULL, channels INTEGER NOT NULL,
    dtype TEXT NOT NULL, sha256 TEXT NOT NULL, file_size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, page INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL, status_model TEXT, created REAL NOT NULL, modified REAL NOT NULL,
    instance_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS layers (
    id TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    settings TEXT NOT NULL, classes TEXT, instances TEXT, vectors TEXT,
    mask_file TEXT, mask_sha256 TEXT, shape TEXT
);
CREATE INDEX IF NOT EXISTS layers_by_image ON layers(image_id, position);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, created REAL NOT NULL,
    card TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, started REAL NOT NULL, finished REAL,
    status TEXT NOT NULL, command TEXT NOT NULL, result TEXT, log_tail TEXT
);
"""


def connect(folder: Path, create: bool = False) -> sqlite3.Connection:
    """Open (or create) the catalogue of `folder`, checked before anything is written to it.

    See catalogue_check: links, triggers, views and foreign write-ahead logs are refused
    before SQLite may act on them; every failure is one ProjectError naming the catalogue.
    """
    from seggui.core import catalogue_check as check

    path = folder / CATALOGUE_NAME
    project_id = None
    existing = os.path.lexists(path)
    if existing or not create:
        check.check_files(path)
        project_id = check.inspect(path)
        check.check_pending_log(path, project_id)
    try:
        connection = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA trusted_schema=OFF")
        check.bound_queries(connection)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        if create and not existing:
            connection.executescript(SCHEMA)
            with transaction(connection):
                connection.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),)
                )
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('project_id', ?)", (uuid.uuid4().hex,))
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('app_version', ?)", (__version__,))
        check_format(connection, path)
        connection.set_progress_handler(None, 0)  # checked: later queries are seggui's own
        return connection
    except sqlite3.DatabaseError as error:
        raise ProjectError(f"catalogue is damaged or not a SQLite file ({error})", path) from error


def connect_again(folder: Path) -> sqlite3.Connection:
    """Another connection to a catalogue `connect` already checked (one per thread)."""
    path = folder / CATALOGUE_NAME
    try:
        # Used by one thread only; check_same_thread=False lets Project.close() close it.
        connection = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA trusted_schema=OFF")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection
    except sqlite3.DatabaseError as error:
        raise ProjectError(f"catalogue cannot be opened ({error})", path) from error


def stamp_save(connection: sqlite3.Connection) -> None:
    """Inside a save's transaction: give the project an id (older projects lack one) and touch
    the meta table, so every write-ahead log of this project names it (see catalogue_check)."""
    connection.execute("INSERT OR IGNORE INTO meta VALUES ('project_id', ?)", (uuid.uuid4().hex,))
    connection.execute("INSERT OR REPLACE INTO meta VALUES ('saved', ?)", (repr(time.time()),))


class transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.connection.execute("COMMIT")
        else:
            self.connection.execute("ROLLBACK")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def loads(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    return json.loads(text)


def image_rows(connection: sqlite3.Connection) -> list[sqlite3.Row]:
    return connection.execute("SELECT * FROM images ORDER BY position").fetchall()


def layer_rows(connection: sqlite3.Connection, image_id: str | None = None) -> list[sqlite3.Row]:
    if image_id is None:
        return connection.execute("SELECT * FROM layers ORDER BY image_id, position").fetchall()
    return connection.execute(
        "SELECT * FROM layers WHERE image_id=? ORDER BY position", (image_id,)
    ).fetchall()
