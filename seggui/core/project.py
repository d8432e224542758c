"""A project on disk: a readable folder with a catalogue and one lossless file per label layer.

Saving never leaves a half-written state: each changed label layer goes to a new file
(temporary name, fsync, rename), then one SQLite transaction points the catalogue at the
new files, and only then are the old files removed. A crash at any moment leaves the
catalogue consistent with files that decode.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seggui.core import catalogue as cat
from seggui.core import catalogue_check
from seggui.core import project_files
from seggui.core.annotation import LabelClass, VectorShape
from seggui.core.atomic import atomic_write_bytes, sha256_file
from seggui.core.document import STATUSES, Document, ImageEntry, ImageSource, Layer
from seggui.core.errors import ImageReadError, ProjectError
from seggui.core.image_sources import describe_images, source_key, source_name
from seggui.core.imageio import read_image
from seggui.core.label_codec import encode_label_image, read_label_image
from seggui.core.layers import ImageLayer, LabelLayer, instance_info_from_json
from seggui.core import project_lock
from seggui.core.correction_order import expected_errors
from seggui.core.training_set import verified_ids
from seggui.core.project_files import MASKS_FOLDER, check_mask_file, mask_path, masks_folder
from seggui.core.recovery import RecoveryReport, pending_journal_bytes, recovery_report
from seggui.core.safe_files import UnsafePathError, check_regular
# Crash tests set this (seconds) to widen the window between writing mask files and the
# catalogue commit, so a SIGKILL lands inside a save often enough to prove it is safe.
PAUSE_BEFORE_COMMIT_VARIABLE = "SEGGUI_TEST_PAUSE_BEFORE_COMMIT"


def _pause_for_crash_tests() -> None:
    pause = os.environ.get(PAUSE_BEFORE_COMMIT_VARIABLE)
    if pause:
        import time

        time.sleep(float(pause))


def count_instances(labels: np.ndarray) -> int:
    if labels.size == 0:
        return 0
    if int(labels.max()) < 5_000_000:
        return int(np.count_nonzero(np.bincount(labels.ravel())[1:]))
    return int(np.unique(labels).size - (1 if (labels == 0).any() else 0))


@dataclass
class _LayerSave:
    row: dict
    labels: np.ndarray | None = None  # a copy, present only when pixels must be written


@dataclass
class SaveSnapshot:
    """Everything a save writes, copied on the GUI thread so the write can run elsewhere."""

    image_rows: list[dict] = field(default_factory=list)
    layers_by_image: dict[str, list[_LayerSave]] = field(default_factory=dict)  # loaded images only
    versions: dict[str, int] = field(default_factory=dict)  # layer id -> version captured


def _relative(path: Path, folder: Path) -> str | None:
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:  # another drive on Windows
        return None


class Project:
    """An open project folder. Use `Project.create` or `Project.open`."""

    def __init__(self, folder: Path, connection, read_only: bool = False):
        self.folder = folder
        # One connection per thread: the GUI thread records jobs and versions while the
        # autosave worker writes a save; sharing one connection would mix their transactions.
        self._owner_thread = threading.get_ident()
        self._first_connection = connection
        self._local = threading.local()
        self._connections = [connection]
        self._connections_lock = threading.Lock()
        self.read_only = read_only  # opened while another seggui holds the lock: never writes
        self.lock: project_lock.LockHolder | None = None
        self._saved_rows: dict[str, dict] = {}  # image id -> row as last read or written
        self._saved_versions: dict[str, int] = {}
        self._mask_files: dict[str, str] = {}  # layer id -> mask file currently in the catalogue
        self._mask_hashes: dict[str, str | None] = {}
        self._save_lock = threading.Lock()
        self.recovery = RecoveryReport()  # what opening repaired after a crash (empty: clean)

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, folder: str | Path) -> "Project":
        folder = Path(folder).resolve()
        if (folder / cat.CATALOGUE_NAME).exists():
            raise ProjectError("a project already exists here", folder)
        if folder.exists() and not folder.is_dir():
            raise ProjectError("exists and is not a folder", folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ProjectError(f"cannot create the project folder ({error.strerror or error})", folder) from error
        masks_folder(folder, create=True)
        lock = project_lock.acquire(folder)
        try:
            project = cls(folder, cat.connect(folder, create=True))
        except BaseException:
            project_lock.release(folder, lock)
            raise
        project.lock = lock
        return project

    @classmethod
    def open(cls, folder: str | Path, read_only: bool = False, take_over: bool = False) -> tuple["Project", Document]:
        """Open a project. Raises ProjectLockedError when another seggui has it open for writing
        (its `holder` says who): then open with `read_only=True`, or `take_over=True` when that
        seggui is gone. A read-only project repairs nothing on opening and refuses to save."""
        folder = Path(folder).resolve()
        if folder.is_file() and folder.name == cat.CATALOGUE_NAME:
            folder = folder.parent
        if not folder.is_dir():
            raise ProjectError("no such project folder", folder)
        if not (folder / cat.CATALOGUE_NAME).is_file() and not (folder / cat.CATALOGUE_NAME).is_symlink():
            raise ProjectError("not a seggui project (no catalogue file found)", folder)
        # The lock first: crash clean-up must never delete files another writer is saving.
        lock = None if read_only else project_lock.acquire(folder, take_over)
        try:
            journal_bytes = pending_journal_bytes(folder)  # must be read before SQLite replays it
            project = cls(folder, cat.connect(folder), read_only=read_only)
        except BaseException:
            if lock is not None:
                project_lock.release(folder, lock)
            raise
        project.lock = lock
        try:
            catalogue_check.check_rows(project.connection, folder / cat.CATALOGUE_NAME, STATUSES)
            masks_folder(folder)  # a linked masks folder is refused before anything reads or cleans it
            document = Document()
            for row in cat.image_rows(project.connection):
                document.images.append(project._entry_from_row(row))
            entries = {entry.id: entry for entry in document.images}
            counted: set[str] = set()
            for row in cat.layer_rows(project.connection):
                if row["mask_file"]:
                    project._mask_files[row["id"]] = row["mask_file"]
                    project._mask_hashes[row["id"]] = row["mask_sha256"]
                    entry = entries.get(row["image_id"])
                    if entry is not None and row["kind"] == "labels" and entry.id not in counted:
                        counted.add(entry.id)  # the first label layer, as training reads it
                        info = (cat.loads(row["instances"], {}) or {}).get("info", {})
                        entry.verified_count = len(verified_ids(info))
                        entry.doubt = expected_errors(info)
            for position, entry in enumerate(document.images):
                project._saved_rows[entry.id] = project._image_row(entry, position)
            if not read_only:
                project.recovery = recovery_report(project, journal_bytes)
        except BaseException:
            project.close()
            raise
        document.mark_clean()
        return project, document

    @property
    def connection(self):
        """The catalogue connection of the calling thread (opened on first use)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if threading.get_ident() == self._owner_thread:
                connection = self._first_connection
            else:
                connection = cat.connect_again(self.folder)
                with self._connections_lock:
                    self._connections.append(connection)
            self._local.connection = connection
        return connection

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.close()
            except Exception:
                pass
        if self.lock is not None:
            project_lock.release(self.folder, self.lock)
            self.lock = None

    def _entry_from_row(self, row) -> ImageEntry:
        relative = row["path_relative"]
        path = Path(row["path_absolute"])
        if relative and (self.folder / relative).exists():
            path = (self.folder / relative).resolve()
        source = ImageSource(path, row["height"], row["width"], row["channels"], row["dtype"],
                             row["sha256"], row["file_size"], row["mtime_ns"], row["page"])
        entry = ImageEntry(source, id=row["id"], name=row["name"], status=row["status"],
                           status_model=row["status_model"], created=row["created"],
                           modified=row["modified"], instance_count=row["instance_count"])
        entry.loader = self._load_layers
        entry.problem = self._check_source(source)
        return entry

    @staticmethod
    def _check_source(source: ImageSource) -> str | None:
        try:
            stat = check_regular(source.path, "image file")
        except UnsafePathError as error:
            return f"{error.message}: {source.path}"
        if stat.st_size != source.file_size or stat.st_mtime_ns != source.mtime_ns:
            return f"image file changed since it was added: {source.path}"
        return None

    # -- images -------------------------------------------------------------------------
    def add_images(self, document: Document, paths: list[str | Path],
                   pages: dict[str | Path, list[int] | str] | str | None = None) -> tuple[list[ImageEntry], list[str]]:
        """Add image files (folders are searched one level deep). Returns (added, problems).

        `pages` chooses planes of multi-page files (see `describe_images`; default page 0).
        The same in two halves for a window that must stay responsive: `describe_images`
        (reads headers and hashes files; safe on a worker thread) then `add_sources`.
        """
        sources, problems = describe_images(paths, {source_key(e.source) for e in document.images}, pages=pages)
        return self.add_sources(document, sources), problems

    def add_sources(self, document: Document, sources: list[ImageSource]) -> list[ImageEntry]:
        """Add described images (call on the thread that owns the document); skips known ones."""
        known = {source_key(e.source) for e in document.images}
        added = []
        for source in sources:
            if source_key(source) in known:
                continue
            known.add(source_key(source))
            entry = ImageEntry(source, name=source_name(source))
            entry.loader = self._load_layers
            added.append(document.add_image(entry))
        return added

    def _load_layers(self, entry: ImageEntry) -> list[Layer]:
        source = entry.source
        image = read_image(source.path, page=source.page)
        if (image.height, image.width) != (source.height, source.width):
            raise ImageReadError(
                f"image is now {image.width}x{image.height}, the project recorded "
                f"{source.width}x{source.height}: the file was replaced", source.path)
        source.channels, source.dtype = image.channels, str(image.array.dtype)
        # The hash, not size and time stamp: a file replaced by another of the same size and
        # mtime would otherwise have someone's labels painted over different pixels.
        if sha256_file(source.path) != source.sha256:
            raise ImageReadError("image content changed since it was added to the project "
                                 "(different pixels); re-add it to annotate it", source.path)
        if entry.problem and entry.problem.startswith("image file changed"):
            entry.problem = None  # only touched, same content
        rows = cat.layer_rows(self.connection, entry.id)
        layers: list[Layer] = []
        for row in rows:
            try:
                settings = cat.loads(row["settings"], {})
                if row["kind"] == "image":
                    layers.append(ImageLayer(image.array, row["name"], image.channel_names, row["id"], settings,
                                              pixel_size_um=image.pixel_size_um))
                else:
                    layers.append(self._load_label_layer(row, settings, (source.height, source.width)))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise ProjectError(f"layer {row['id']!r} of image {entry.name!r} is malformed in the catalogue "
                                   f"({type(error).__name__}: {error})", self.folder / cat.CATALOGUE_NAME) from None
        if not any(isinstance(layer, ImageLayer) for layer in layers):
            layers.insert(0, ImageLayer(image.array, "image", image.channel_names, pixel_size_um=image.pixel_size_um))
        if not any(isinstance(layer, LabelLayer) for layer in layers):
            layers.append(LabelLayer.empty((source.height, source.width), name="labels"))
        return layers

    def _load_label_layer(self, row, settings: dict, shape: tuple[int, int]) -> LabelLayer:
        path = mask_path(self.folder, row["mask_file"], row["id"])
        check_mask_file(path)
        labels = read_label_image(path)
        if labels.shape != shape:
            raise ProjectError(f"label file is {labels.shape[1]}x{labels.shape[0]}, the image is "
                               f"{shape[1]}x{shape[0]}", path)
        instances = cat.loads(row["instances"], {})
        layer = LabelLayer(
            labels, row["name"],
            classes=[LabelClass.from_json(c) for c in cat.loads(row["classes"], [])],
            instance_classes={int(k): int(v) for k, v in instances.get("classes", {}).items()},
            instance_info=instance_info_from_json(instances.get("info", {})),
            vectors=[VectorShape.from_json(v) for v in cat.loads(row["vectors"], [])],
            layer_id=row["id"],
        )
        for name in ("visible", "opacity", "locked", "contour_only", "color_by_class"):
            if name in settings:
                setattr(layer, name, type(getattr(layer, name))(settings[name]))
        self._saved_versions[layer.id] = layer.version
        return layer

    # -- saving -------------------------------------------------------------------------
    def snapshot(self, document: Document) -> SaveSnapshot:
        """Copy what must be written (call on the thread that owns the document)."""
        snapshot = SaveSnapshot()
        for position, entry in enumerate(document.images):
            snapshot.image_rows.append(self._image_row(entry, position))
            if not entry.loaded:
                continue
            saves = []
            for layer_position, layer in enumerate(entry.layers):
                saves.append(self._layer_save(entry, layer, layer_position))
                snapshot.versions[layer.id] = getattr(layer, "version", 0)
            snapshot.layers_by_image[entry.id] = saves
        return snapshot

    def _image_row(self, entry: ImageEntry, position: int) -> dict:
        source = entry.source
        return dict(id=entry.id, position=position, name=entry.name,
                    path_relative=_relative(source.path, self.folder), path_absolute=str(source.path),
                    height=source.height, width=source.width, channels=source.channels, dtype=source.dtype,
                    sha256=source.sha256, file_size=source.file_size, mtime_ns=source.mtime_ns,
                    page=source.page, status=entry.status, status_model=entry.status_model,
                    created=entry.created, modified=entry.modified, instance_count=entry.instance_count)

    def _layer_save(self, entry: ImageEntry, layer: Layer, position: int) -> _LayerSave:
        row = dict(id=layer.id, image_id=entry.id, position=position, kind=layer.kind, name=layer.name,
                   classes=None, instances=None, vectors=None, mask_file=None, mask_sha256=None, shape=None)
        if isinstance(layer, ImageLayer):
            row["settings"] = cat.dumps(layer.settings())
            return _LayerSave(row)
        row["settings"] = cat.dumps({name: getattr(layer, name) for name in
                                     ("visible", "opacity", "locked", "contour_only", "color_by_class")})
        row["classes"] = cat.dumps([c.to_json() for c in layer.classes])
        row["instances"] = cat.dumps({"classes": {str(k): v for k, v in layer.instance_classes.items()},
                                      "info": {str(k): v for k, v in layer.instance_info.items()}})
        row["vectors"] = cat.dumps([v.to_json() for v in layer.vectors])
        row["shape"] = cat.dumps(list(layer.shape))
        changed = self._saved_versions.get(layer.id) != layer.version or layer.id not in self._mask_files
        return _LayerSave(row, layer.data.copy() if changed else None)

    def write(self, snapshot: SaveSnapshot) -> None:
        """Write a snapshot: new mask files first, then one catalogue transaction."""
        if self.read_only:
            raise ProjectError("the project was opened read-only (another seggui holds it); use Save As to "
                               "keep your changes in another folder", self.folder)
        with self._save_lock:
            new_files: dict[str, str] = {}
            try:
                self._write_masks(snapshot, new_files)
                _pause_for_crash_tests()
                self._commit(snapshot, new_files)
            except BaseException:
                for name in new_files.values():  # the catalogue never pointed at them
                    (self.folder / MASKS_FOLDER / name).unlink(missing_ok=True)
                raise
            self._saved_versions.update(snapshot.versions)
            self.remove_orphan_masks()
            if self.lock is not None:
                self.lock = project_lock.refresh(self.folder, self.lock)

    def _write_masks(self, snapshot: SaveSnapshot, new_files: dict[str, str]) -> None:
        masks = masks_folder(self.folder, create=True)
        for image_id, saves in snapshot.layers_by_image.items():
            for save in saves:
                if save.labels is None:
                    if save.row["kind"] == "labels":
                        save.row["mask_file"] = self._mask_files[save.row["id"]]
                        save.row["mask_sha256"] = self._mask_hashes.get(save.row["id"])
                    continue
                data, suffix = encode_label_image(save.labels)
                name = project_files.mask_file_name(save.row["id"], uuid.uuid4().hex[:8], suffix)
                atomic_write_bytes(masks / name, data)
                new_files[save.row["id"]] = name
                save.row["mask_file"] = name
                save.row["mask_sha256"] = hashlib.sha256(data).hexdigest()
        for row in snapshot.image_rows:
            saves = snapshot.layers_by_image.get(row["id"])
            if saves and any(s.labels is not None for s in saves):
                label_saves = [s for s in saves if s.row["kind"] == "labels"]
                if label_saves and label_saves[0].labels is not None:
                    row["instance_count"] = count_instances(label_saves[0].labels)

    def _commit(self, snapshot: SaveSnapshot, new_files: dict[str, str]) -> None:
        connection = self.connection
        try:
            with cat.transaction(connection):
                # Only what this session changed: rows another writer saved meanwhile (a colleague
                # marking another image reviewed) are neither reverted nor deleted.
                ids = {row["id"] for row in snapshot.image_rows}
                removed = [image_id for image_id in self._saved_rows if image_id not in ids]
                changed = [row for row in snapshot.image_rows if self._saved_rows.get(row["id"]) != row]
                for image_id in removed:
                    connection.execute("DELETE FROM layers WHERE image_id=?", (image_id,))
                    connection.execute("DELETE FROM images WHERE id=?", (image_id,))
                columns = list(snapshot.image_rows[0]) if snapshot.image_rows else []
                if columns and changed:
                    # An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the
                    # ON DELETE CASCADE would then drop the layers of images not loaded this session.
                    updates = ",".join(f"{c}=excluded.{c}" for c in columns if c != "id")
                    connection.executemany(
                        f"INSERT INTO images ({','.join(columns)}) VALUES ({','.join('?' * len(columns))}) "
                        f"ON CONFLICT(id) DO UPDATE SET {updates}",
                        [tuple(row[c] for c in columns) for row in changed])
                for image_id, saves in snapshot.layers_by_image.items():
                    connection.execute("DELETE FROM layers WHERE image_id=?", (image_id,))
                    for save in saves:
                        row = save.row
                        keys = list(row)
                        connection.execute(
                            f"INSERT INTO layers ({','.join(keys)}) VALUES ({','.join('?' * len(keys))})",
                            tuple(row[k] for k in keys))
                cat.stamp_save(connection)
                self._check_stored(snapshot)
        except ProjectError:
            raise
        except Exception as error:
            raise ProjectError(f"catalogue could not be updated ({error})", self.folder / cat.CATALOGUE_NAME) from error
        self._saved_rows = {row["id"]: dict(row) for row in snapshot.image_rows}
        for image_id, saves in snapshot.layers_by_image.items():
            for save in saves:
                if save.row["kind"] == "labels":
                    self._mask_files[save.row["id"]] = save.row["mask_file"]
                    self._mask_hashes[save.row["id"]] = save.row["mask_sha256"]

    def _check_stored(self, snapshot: SaveSnapshot) -> None:
        # Read back, inside the transaction, what the catalogue now names: clean-up deletes
        # every mask file not named, so a row changed behind our back (another writer, a
        # trigger) must fail the save rather than have clean-up delete the new labels.
        for saves in snapshot.layers_by_image.values():
            for save in saves:
                row = save.row
                stored = self.connection.execute("SELECT mask_file FROM layers WHERE id=?", (row["id"],)).fetchone()
                if stored is None or stored[0] != row["mask_file"]:
                    raise ProjectError(f"the catalogue did not keep what was saved for layer {row['id']!r} "
                                       f"(it stores {None if stored is None else stored[0]!r}); nothing was changed",
                                       self.folder / cat.CATALOGUE_NAME)

    def save(self, document: Document) -> None:
        self.write(self.snapshot(document))
        document.mark_clean()

    def save_as(self, document: Document, folder: str | Path) -> "Project":
        """Copy the project to a new folder and save `document` there; returns the new project.

        The catalogue is copied with SQLite's backup API and the current mask files are
        copied, so images whose layers were never loaded keep their labels; then the
        document (every loaded layer) is written to the new folder. This project is left
        as it was on disk (it may be unwritable: this is how the user recovers).
        """
        new = Project.create(folder)
        try:
            self.connection.backup(new.connection)
            masks_folder(new.folder)
            for layer_id, name in self._mask_files.items():
                # Both names were checked at open; resolving again costs nothing and keeps a
                # changed row from copying a file from, or to, anywhere but the masks folders.
                source = mask_path(self.folder, name, layer_id)
                if source.is_file() and not source.is_symlink():
                    shutil.copy2(source, mask_path(new.folder, name, layer_id), follow_symlinks=False)
                    new._mask_files[layer_id] = name
                    new._mask_hashes[layer_id] = self._mask_hashes.get(layer_id)
        except ProjectError:
            new.close()
            raise
        except Exception as error:  # OSError, sqlite3.Error
            new.close()
            raise ProjectError(f"cannot copy the project ({error})", new.folder) from error
        for entry in document.images:
            if entry.loader == self._load_layers:
                entry.loader = new._load_layers
        new.save(document)
        return new

    def holds_saved(self, entry: ImageEntry) -> bool:
        """True when every layer of a loaded image is on disk as it is now (so its pixels can be
        released and read again): the last save or open wrote or read each label layer's current
        version. Changes not yet saved, or an image never saved, make this False."""
        if not entry.loaded or entry.loader != self._load_layers:
            return False
        for layer in entry.label_layers:
            if layer.id not in self._mask_files:
                # The empty layer made for an image never labelled: loading makes it again.
                if layer.version == 0 and len(entry.label_layers) == 1 and not layer.data.any():
                    continue
                return False
            if self._saved_versions.get(layer.id) != layer.version:
                return False
        return True

    def remove_orphan_masks(self) -> list[str]:
        """Delete mask files the catalogue no longer names (left by replaced saves or crashes)."""
        referenced = {row["mask_file"] for row in cat.layer_rows(self.connection) if row["mask_file"]}
        removed = []
        # Only files seggui writes (by name shape, regular files, never links) are candidates:
        # a colleague's project must not be able to make clean-up delete anything else.
        for path in project_files.removable_debris(self.folder):
            if path.name not in referenced:
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    # Housekeeping only: a file that cannot go (read-only folder) must not turn
                    # a committed save into a reported failure; the next open tries again.
                    continue
                removed.append(path.name)
        return removed

    def integrity_problems(self) -> list[str]:
        """Check that every mask file the catalogue names exists and decodes to its shape."""
        problems = []
        for row in cat.layer_rows(self.connection):
            if row["kind"] != "labels":
                continue
            try:
                path = mask_path(self.folder, row["mask_file"], row["id"])
                check_mask_file(path)
                labels = read_label_image(path)
            except (ImageReadError, ProjectError) as error:
                problems.append(str(error))
                continue
            shape = cat.loads(row["shape"], None)
            if shape and list(labels.shape) != shape:
                problems.append(f"{path}: shape {labels.shape} differs from recorded {shape}")
        return problems
