"""The project's validation images: fixed once, kept out of training, never a model's own labels.

A model scores well on labels it drew itself, so comparing a fine-tuned version with its
base on an image whose labels are still exactly an accepted proposal says nothing. The rule:
an image is *eligible* unless a model proposed its labels (status_model is set) and its first
label layer is still bit for bit what was accepted (or no record of what was accepted exists,
e.g. a project from before this record). A person's edit changes the pixels and makes it
eligible again; an import into its own layer leaves the first layer as the person made it.

Everything lives in the catalogue's `meta` table (no schema change), as JSON:
  accepted_proposals  {image id: [digest of an accepted label image, ...]}
  validation_images   [image id, ...]  the fixed validation set
  validation_seen     [image id, ...]  reviewed images already placed; a seen image was (or
                      may have been) trained on, so it never joins the validation set later
The set is extended only with eligible images seen for the first time, never redrawn, so
every training run of the project is measured on the same images.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from seggui.core import catalogue as cat

PROPOSALS_KEY = "accepted_proposals"
VALIDATION_KEY = "validation_images"
SEEN_KEY = "validation_seen"
FRACTION = 0.2  # of the reviewed images, once enough are eligible
MAX_DIGESTS = 8  # accepted proposals remembered per image (re-runs, fill-only merges)


def labels_digest(labels: np.ndarray) -> str:
    """The same for a layer in memory and its mask read back (uint16 or uint32 on disk)."""
    array = np.ascontiguousarray(labels, dtype="<u4")
    digest = hashlib.sha256(repr(array.shape).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def _read(connection, key: str, default):
    row = connection.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    try:
        value = json.loads(row["value"]) if row is not None else default
    except (TypeError, ValueError):  # a damaged value counts as none: never trust it as a set
        return default
    return value if isinstance(value, type(default)) else default


def _write(connection, values: dict) -> None:
    with cat.transaction(connection):
        for key, value in values.items():
            connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, cat.dumps(value)))


def record_accepted_proposal(connection, image_id: str, labels: np.ndarray) -> None:
    """Remember that `labels` (the layer after accepting) came from a model, not a person."""
    proposals = _read(connection, PROPOSALS_KEY, {})
    digests = [d for d in proposals.get(image_id, []) if isinstance(d, str)]
    digest = labels_digest(labels)
    if digest in digests:
        return
    proposals[image_id] = (digests + [digest])[-MAX_DIGESTS:]
    _write(connection, {PROPOSALS_KEY: proposals})


def accepted_proposals(connection) -> dict[str, list[str]]:
    """Image id -> digests of the labels accepted from a model (the newest last)."""
    return _read(connection, PROPOSALS_KEY, {})


def record_in_project(folder: str | Path, image_id: str, labels: np.ndarray) -> None:
    """record_accepted_proposal through a connection of its own: the GUI records on its thread
    while an autosave may be writing through the project's connection on a worker; SQLite's
    locking (WAL, busy timeout) orders the two. The catalogue was checked when it was opened."""
    import sqlite3

    connection = sqlite3.connect(Path(folder) / cat.CATALOGUE_NAME, timeout=10.0, isolation_level=None)
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA trusted_schema=OFF")
        record_accepted_proposal(connection, image_id, labels)
    finally:
        connection.close()


def stored_validation(connection) -> list[str]:
    return [i for i in _read(connection, VALIDATION_KEY, []) if isinstance(i, str)]


def _first_labels(connection, folder: Path, image_id: str) -> np.ndarray | None:
    from seggui.core.label_codec import read_label_image
    from seggui.core.project_files import check_mask_file, mask_path

    layer = connection.execute(
        "SELECT id, mask_file FROM layers WHERE image_id=? AND kind='labels' ORDER BY position LIMIT 1",
        (image_id,)).fetchone()
    if layer is None or not layer["mask_file"]:
        return None
    path = mask_path(folder, layer["mask_file"], layer["id"])
    check_mask_file(path)
    return read_label_image(path)


def is_eligible(connection, folder: str | Path, row) -> bool:
    """Whether the image row's saved labels can judge a model (see the module docstring)."""
    if not row["status_model"]:
        return True  # labelled by a person or imported
    digests = _read(connection, PROPOSALS_KEY, {}).get(row["id"], [])
    if not digests:
        return False  # a model proposed it and nothing says a person changed it: not honest
    try:
        labels = _first_labels(connection, Path(folder), row["id"])
    except Exception:  # noqa: BLE001 - unreadable labels are the trainer's error to report
        return False
    return labels is not None and labels_digest(labels) not in digests


def _rank(image_id: str) -> str:
    """A stable pseudo-random order, so which new images join does not depend on list order."""
    return hashlib.sha1(image_id.encode("utf-8")).hexdigest()


def update_validation_set(connection, folder: str | Path) -> list[str]:
    """Place reviewed images seen for the first time; returns the validation set (ids).

    A new eligible image joins while the set holds fewer than FRACTION of the reviewed images
    (at least one), as long as one reviewed image is left to train on. Writes only on change.
    """
    rows = connection.execute("SELECT id, status, status_model FROM images ORDER BY position").fetchall()
    existing = {row["id"] for row in rows}
    validation = [i for i in stored_validation(connection) if i in existing]
    seen = [i for i in _read(connection, SEEN_KEY, []) if isinstance(i, str) and i in existing]
    reviewed = [row for row in rows if row["status"] == "reviewed"]
    new = [row for row in reviewed if row["id"] not in seen and row["id"] not in validation]
    if not new and len(validation) == len(stored_validation(connection)):
        return validation
    total = len({row["id"] for row in reviewed} | set(validation))
    target = max(1, round(FRACTION * total))
    training_left = sum(1 for row in reviewed if row["id"] not in validation)
    for row in sorted(new, key=lambda r: _rank(r["id"])):
        if len(validation) >= target or training_left <= 1:
            break
        if is_eligible(connection, folder, row):
            validation.append(row["id"])
            training_left -= 1
    seen += [row["id"] for row in new if row["id"] not in validation]
    _write(connection, {VALIDATION_KEY: validation, SEEN_KEY: seen})
    return validation
