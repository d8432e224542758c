"""Checks a project catalogue passes before seggui uses it: the catalogue is data, not code.

A catalogue may come from someone else. SQLite would run its triggers, evaluate its views
(an endlessly recursive one hangs the reader while temporary files grow), and replay any
write-ahead log lying beside it, even one from another database. So before a catalogue is
opened for writing:

1. the file, its `-wal` and its `-shm` must be regular files, not links;
2. a read-only, `immutable` connection (which neither writes nor reads the WAL) checks the
   schema: the expected tables and columns, and no triggers, views or virtual tables;
3. a pending write-ahead log is replayed into a temporary copy first; the copy must pass the
   same checks, `PRAGMA quick_check`, and carry the same project id as the catalogue itself
   (every seggui save rewrites the `meta` table, so a log from another project carries that
   project's id);
4. after opening, every row is checked for the types and values seggui relies on.

Each problem is one ProjectError naming the catalogue and what is wrong. Queries made while
checking are bounded in time by a progress handler.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from seggui.core.errors import ProjectError
from seggui.core.layers import MAX_CELL_ID, instance_info_from_json
from seggui.core.safe_files import UnsafePathError, check_not_link, is_identifier

QUERY_SECONDS = float(os.environ.get("SEGGUI_CATALOGUE_TIMEOUT", "30"))
# The tables and columns seggui reads; a catalogue may have more (ignored), never fewer.
EXPECTED_COLUMNS = {
    "meta": {"key", "value"},
    "images": {"id", "position", "name", "path_relative", "path_absolute", "height", "width", "channels",
               "dtype", "sha256", "file_size", "mtime_ns", "page", "status", "status_model", "created",
               "modified", "instance_count"},
    "layers": {"id", "image_id", "position", "kind", "name", "settings", "classes", "instances", "vectors",
               "mask_file", "mask_sha256", "shape"},
    "models": {"id", "name", "path", "created", "card", "active"},
    "jobs": {"id", "kind", "started", "finished", "status", "command", "result", "log_tail"},
}
SIDE_FILES = ("-wal", "-shm", "-journal")
# The newest catalogue format this seggui reads (and the one it writes).
FORMAT_VERSION = 1


def bound_queries(connection: sqlite3.Connection, seconds: float = QUERY_SECONDS) -> None:
    """Interrupt any statement still running `seconds` from now (None-safe to remove later)."""
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 20_000)


def check_files(path: Path) -> None:
    """The catalogue and its side files are regular files inside the folder, not links."""
    for candidate in [path] + [path.with_name(path.name + side) for side in SIDE_FILES]:
        if candidate != path and not os.path.lexists(candidate):
            continue
        try:
            check_not_link(candidate, "catalogue file", missing="not a seggui project (no catalogue file found)")
        except UnsafePathError as error:
            where = path.parent if not os.path.lexists(candidate) else candidate
            raise ProjectError(error.message, where) from None


def _read_only(path: Path, immutable: bool) -> sqlite3.Connection:
    mode = "ro&immutable=1" if immutable else "ro"
    connection = sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True, timeout=10.0)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA trusted_schema=OFF")
    bound_queries(connection)
    return connection


def check_schema(connection: sqlite3.Connection, path: Path) -> None:
    """The expected tables with their columns; no triggers, views or virtual tables."""
    try:
        objects = connection.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        for kind, name, sql in objects:
            if kind in ("trigger", "view"):
                raise ProjectError(f"the catalogue contains a {kind} ({name!r}); seggui catalogues hold only "
                                   "tables, and code inside a shared project is refused", path)
            if kind == "table" and sql and sql.lstrip().upper().startswith("CREATE VIRTUAL"):
                raise ProjectError(f"the catalogue contains a virtual table ({name!r}), which seggui refuses", path)
        tables = {name for kind, name, _ in objects if kind == "table"}
        for table, columns in EXPECTED_COLUMNS.items():
            if table not in tables:
                raise ProjectError(f"the catalogue has no {table!r} table (damaged, or not a seggui project)", path)
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            missing = sorted(columns - present)
            if missing:
                raise ProjectError(f"the catalogue's {table!r} table lacks the column(s) {', '.join(missing)}", path)
    except sqlite3.Error as error:
        raise ProjectError(f"catalogue is damaged or not a SQLite file ({error})", path) from None


def check_format(connection: sqlite3.Connection, path: Path) -> None:
    row = connection.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
    if row is None:
        raise ProjectError("catalogue has no format version", path)
    text = str(row["value"])
    if not text.isdigit():
        raise ProjectError(f"catalogue's format version is {text!r}, not a number", path)
    version = int(text)
    if version > FORMAT_VERSION:
        raise ProjectError(
            f"project was written by a newer seggui (format {version}; this version reads {FORMAT_VERSION})",
            path,
        )


def meta_value(connection: sqlite3.Connection, key: str) -> str | None:
    row = connection.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return None if row is None else row[0]


def has_pending_log(path: Path) -> bool:
    try:
        return path.with_name(path.name + "-wal").stat().st_size > 0
    except OSError:
        return False


def inspect(path: Path) -> str | None:
    """Check a catalogue without writing or replaying anything; return its project id.

    With a pending write-ahead log the file alone may not hold the schema yet (a project
    that was never checkpointed): then only the id is read here, and the schema is checked
    on the replayed copy by `check_pending_log`.
    """
    pending = has_pending_log(path)
    try:
        connection = _read_only(path, immutable=True)
    except sqlite3.Error as error:
        raise ProjectError(f"catalogue is damaged or not a SQLite file ({error})", path) from None
    try:
        if pending:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            return meta_value(connection, "project_id") if "meta" in tables else None
        check_schema(connection, path)
        check_format(connection, path)
        return meta_value(connection, "project_id")
    except sqlite3.Error as error:
        raise ProjectError(f"catalogue is damaged or not a SQLite file ({error})", path) from None
    finally:
        connection.close()


def check_pending_log(path: Path, project_id: str | None) -> None:
    """Replay a pending write-ahead log into a temporary copy and check the result first."""
    wal = path.with_name(path.name + "-wal")
    if not has_pending_log(path):
        return
    scratch = Path(tempfile.mkdtemp(prefix="seggui-catalogue-check-"))
    try:
        copy = scratch / path.name
        shutil.copyfile(path, copy)
        shutil.copyfile(wal, scratch / wal.name)
        connection = sqlite3.connect(copy, timeout=10.0)
        try:
            connection.execute("PRAGMA trusted_schema=OFF")
            bound_queries(connection)
            check_schema(connection, path)
            connection.row_factory = sqlite3.Row
            check_format(connection, path)
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise ProjectError(f"the catalogue's write-ahead log ({wal.name}) would damage it ({verdict}); "
                                   "it was left unapplied: remove it to open the project as last merged", wal)
            replayed_id = meta_value(connection, "project_id")
            if project_id is not None and replayed_id != project_id:
                raise ProjectError(f"the write-ahead log {wal.name} belongs to another project's catalogue; it was "
                                   "left unapplied: remove it to open this project as last merged", wal)
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise ProjectError(f"the catalogue's write-ahead log cannot be applied ({error}); remove {wal.name} "
                           "to open the project as last merged", wal) from None
    except OSError as error:
        raise ProjectError(f"the catalogue could not be checked ({error.strerror or error})", path) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- rows ----------------------------------------------------------------------------------
def _json(value, kinds: tuple[type, ...], column: str, where: str, path: Path, optional: bool = True):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ProjectError(f"{where}: {column} is not JSON text", path)
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError) as error:
        raise ProjectError(f"{where}: {column} is not valid JSON ({str(error)[:80]})", path) from None
    if not isinstance(parsed, kinds):
        raise ProjectError(f"{where}: {column} must be a JSON {' or '.join(k.__name__ for k in kinds)}", path)
    return parsed


def _instance_tables(instances: dict, where: str, path: Path) -> None:
    """A label layer's cell -> class table and per-cell info (scores, verified marks) are what
    the window, the review queue and training read: refused here, once, when malformed."""
    classes = instances.get("classes", {})
    if not isinstance(classes, dict):
        raise ProjectError(f"{where}: instances.classes must be a JSON object", path)
    for key, value in classes.items():
        try:
            cell = int(key)
        except ValueError:
            raise ProjectError(f"{where}: instances.classes: cell id {key!r} is not a whole number", path) from None
        if not 1 <= cell <= MAX_CELL_ID or isinstance(value, bool) or not isinstance(value, int):
            raise ProjectError(f"{where}: instances.classes: cell {key!r} -> {value!r} is not a cell id and "
                               "a class number", path)
    try:
        instance_info_from_json(instances.get("info", {}))
    except ValueError as error:
        raise ProjectError(f"{where}: instances.info: {error}", path) from None


def _integer(value, column: str, where: str, path: Path, low: int = 0, high: int = 2**63 - 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProjectError(f"{where}: {column} must be an integer from {low} to {high}, found {value!r}", path)


def _text(value, column: str, where: str, path: Path, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise ProjectError(f"{where}: {column} must be text, found {value!r}", path)


def check_rows(connection: sqlite3.Connection, path: Path, statuses: tuple[str, ...]) -> None:
    """Every value seggui reads has the type and range it relies on (else one clear error)."""
    from seggui.core.project_files import is_seggui_mask_name

    try:
        version = meta_value(connection, "format_version")
        if version is None or not version.isdigit():
            raise ProjectError(f"the catalogue's format version is {version!r}, not a number", path)
        image_ids = set()
        for row in connection.execute("SELECT * FROM images"):
            where = f"image {row['id']!r}"
            if not is_identifier(row["id"]):
                raise ProjectError(f"{where}: the id is not a plain identifier", path)
            image_ids.add(row["id"])
            for column in ("name", "path_absolute", "dtype", "sha256"):
                _text(row[column], column, where, path)
            _text(row["path_relative"], "path_relative", where, path, optional=True)
            _text(row["status_model"], "status_model", where, path, optional=True)
            for column in ("height", "width"):
                _integer(row[column], column, where, path, 1, 2**31)
            for column in ("channels", "file_size", "mtime_ns", "page", "instance_count", "position"):
                _integer(row[column], column, where, path, 0 if column != "mtime_ns" else -2**63)
            for column in ("created", "modified"):
                if isinstance(row[column], bool) or not isinstance(row[column], (int, float)):
                    raise ProjectError(f"{where}: {column} must be a time stamp", path)
            if row["status"] not in statuses:
                raise ProjectError(f"{where}: unknown status {row['status']!r} (expected {', '.join(statuses)})", path)
        for row in connection.execute("SELECT * FROM layers"):
            where = f"layer {row['id']!r}"
            if not is_identifier(row["id"]):
                raise ProjectError(f"{where}: the id is not a plain identifier (it would name a file)", path)
            if row["image_id"] not in image_ids:
                raise ProjectError(f"{where}: belongs to no image of the catalogue", path)
            if row["kind"] not in ("image", "labels"):
                raise ProjectError(f"{where}: unknown kind {row['kind']!r}", path)
            _text(row["name"], "name", where, path)
            _integer(row["position"], "position", where, path)
            _json(row["settings"], (dict,), "settings", where, path, optional=False)
            if row["kind"] == "labels":
                _json(row["classes"], (list,), "classes", where, path)
                instances = _json(row["instances"], (dict,), "instances", where, path)
                if instances is not None:
                    _instance_tables(instances, where, path)
                _json(row["vectors"], (list,), "vectors", where, path)
                _json(row["shape"], (list,), "shape", where, path)
                if row["mask_file"] is not None and not (
                        is_seggui_mask_name(row["mask_file"]) and row["mask_file"].startswith(f"{row['id']}-")):
                    raise ProjectError(f"{where}: names the label file {row['mask_file']!r}, which is not a file "
                                       "seggui writes (masks/<layer id>-<8 hex digits>.png or .tif)", path)
                _text(row["mask_sha256"], "mask_sha256", where, path, optional=True)
        for row in connection.execute("SELECT * FROM models"):
            where = f"model version {row['id']!r}"
            if not is_identifier(row["id"]):
                raise ProjectError(f"{where}: the id is not a plain identifier", path)
            _text(row["name"], "name", where, path)
            _text(row["path"], "path", where, path)
            _json(row["card"], (dict,), "card", where, path, optional=False)
            if isinstance(row["created"], bool) or not isinstance(row["created"], (int, float)):
                raise ProjectError(f"{where}: created must be a time stamp", path)
        for row in connection.execute("SELECT * FROM jobs"):
            where = f"job {row['id']!r}"
            _json(row["command"], (list,), "command", where, path, optional=False)
            _json(row["result"], (dict, list, str, int, float), "result", where, path)
    except sqlite3.Error as error:
        raise ProjectError(f"catalogue is damaged ({error})", path) from None
