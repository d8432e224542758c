"""The document: a project's images, their layers, statuses and an undo history per image.

Pixels are loaded on demand (a project of thousands of images opens instantly); the
document is an evented model that views observe.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from psygnal import Signal

from seggui.core.annotation import ImageAnnotation, LabelClass
from seggui.core.layers import ImageLayer, LabelLayer
from seggui.core.model_maps import ModelMaps
from seggui.core.history import PROJECT_HISTORY, ImageHistories
from seggui.core.undo import DEFAULT_UNDO_BUDGET_BYTES, CallbackCommand

# new: nobody worked on it; edited: a person changed its labels (batch pre-segmentation then
# leaves it alone); predicted: a model's proposal was accepted; reviewed: done, trains models.
STATUSES = ("new", "edited", "predicted", "reviewed")

Layer = ImageLayer | LabelLayer


_LOADING = threading.RLock()


def now() -> float:
    return time.time()


@dataclass
class ImageSource:
    """Where an image's pixels come from and what they were when recorded."""

    path: Path  # absolute
    height: int
    width: int
    channels: int = 1
    dtype: str = "uint8"
    sha256: str = ""
    file_size: int = 0
    mtime_ns: int = 0
    page: int = 0


@dataclass
class ImageEntry:
    """One image of the project. Layers are materialised by a loader on first access."""

    source: ImageSource
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    name: str = ""
    status: str = "new"
    status_model: str | None = None  # model version that predicted it
    created: float = field(default_factory=now)
    modified: float = field(default_factory=now)
    problem: str | None = None  # e.g. "image file changed since it was added"
    instance_count: int = 0  # cached for the image list; refreshed on save
    verified_count: int = 0  # cells of the first label layer marked verified (review queue)
    doubt: float | None = None  # expected wrong cells at the last save (core.correction_order)
    _layers: list[Layer] | None = field(default=None, repr=False)
    # Reads the layers on first access (a project sets its own); None: only `set_layers` gives them.
    loader: Callable[["ImageEntry"], list[Layer]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            self.name = self.source.path.name

    @property
    def loaded(self) -> bool:
        return self._layers is not None

    @property
    def layers(self) -> list[Layer]:
        if self._layers is None:
            # One load at a time: the window may load a large image on a worker while another
            # part of the program (an export) asks for the same layers.
            with _LOADING:
                if self._layers is None:
                    if self.loader is None:
                        raise RuntimeError(f"image {self.name} has no layers and no loader")
                    self._layers = self.loader(self)
        return self._layers

    def set_layers(self, layers: list[Layer]) -> None:
        self._layers = layers

    def unload(self) -> None:
        """Forget pixels to free memory (only when saved and a loader can bring them back)."""
        if self.loader is not None:
            self._layers = None

    @property
    def image_layer(self) -> ImageLayer | None:
        return next((l for l in self.layers if isinstance(l, ImageLayer)), None)

    @property
    def label_layers(self) -> list[LabelLayer]:
        return [l for l in self.layers if isinstance(l, LabelLayer)]

    def layer_by_id(self, layer_id: str) -> Layer | None:
        return next((l for l in self.layers if l.id == layer_id), None)


class Document:
    """Images + layers + an undo history per image (`undo_stack`). Signals carry plain Python values.

    `undo_stack.undo()` acts on the image set with `set_current_image` (the one on screen);
    scripts that never set one undo on the image they edited last.
    """

    image_added = Signal(object, int)  # entry, index
    image_removed = Signal(object)  # entry
    layer_added = Signal(object, object, int)  # entry, layer, index
    layer_removed = Signal(object, object)  # entry, layer
    layers_moved = Signal(object)  # entry
    status_changed = Signal(object)  # entry
    dirty_changed = Signal(bool)

    def __init__(self, undo_budget_bytes: int | None = None):
        self.images: list[ImageEntry] = []
        self.undo_stack = ImageHistories(self, DEFAULT_UNDO_BUDGET_BYTES if undo_budget_bytes is None
                                         else undo_budget_bytes)
        self.undo_stack.changed.connect(self._on_history_changed)
        self._structure_dirty = False  # changes outside the undo stack (imports, new images)
        self._was_dirty = False
        # Foreground probability of recently pre-segmented images (not saved): click-to-add.
        self.model_maps = ModelMaps()

    # -- dirty state ------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self._structure_dirty or not self.undo_stack.is_clean

    def mark_dirty(self) -> None:
        self._structure_dirty = True
        self._emit_dirty()

    def mark_clean(self) -> None:
        self._structure_dirty = False
        self.undo_stack.set_clean()
        self._emit_dirty()

    def _on_history_changed(self) -> None:
        self._emit_dirty()

    def _emit_dirty(self) -> None:
        if self.dirty != self._was_dirty:
            self._was_dirty = self.dirty
            self.dirty_changed.emit(self._was_dirty)

    # -- images -----------------------------------------------------------------------
    def image_by_id(self, image_id: str) -> ImageEntry | None:
        return next((e for e in self.images if e.id == image_id), None)

    def entry_of_layer(self, layer: Layer) -> ImageEntry | None:
        """The image holding `layer` (only loaded images are searched: others hold no layer object)."""
        for entry in self.images:
            if entry.loaded and any(candidate is layer for candidate in entry.layers):
                return entry
        return None

    def set_current_image(self, entry: ImageEntry | None) -> None:
        """The image on screen: undo and redo act on its history."""
        self.undo_stack.set_current(entry)

    def index_of(self, entry: ImageEntry) -> int:
        return self.images.index(entry)

    def add_image(self, entry: ImageEntry, index: int | None = None) -> ImageEntry:
        index = len(self.images) if index is None else index
        self.images.insert(index, entry)
        self.mark_dirty()
        self.image_added.emit(entry, index)
        return entry

    def remove_image(self, entry: ImageEntry) -> None:
        self.images.remove(entry)
        self.undo_stack.forget(entry)
        self.mark_dirty()
        self.image_removed.emit(entry)

    def remove_images(self, entries: list[ImageEntry]) -> None:
        """Take images out of the project as one undoable step in the project's history
        (undo puts them back where they were, with their layers and their own histories).
        The image files are never touched; the next save drops their catalogue rows."""
        entries = [e for e in self.images if any(e is x for x in entries)]
        if not entries:
            return
        for entry in entries:
            try:
                entry.layers  # hold the labels in memory: after a save only this step has them
            except Exception:  # noqa: BLE001 - an unreadable image has no layers to keep
                pass
        places = [(self.images.index(e), e) for e in entries]
        nbytes = 64 + sum(layer.data.nbytes for e in entries if e.loaded for layer in e.label_layers)

        def redo() -> None:
            for _, entry in reversed(places):
                self.images.remove(entry)
                self.image_removed.emit(entry)

        def undo() -> None:
            for index, entry in places:
                if entry.loaded:
                    for layer in entry.label_layers:
                        layer.version += 1  # written again: a save in between deleted its mask file
                self.images.insert(min(index, len(self.images)), entry)
                self.image_added.emit(entry, index)

        count = len(entries)
        text = f"remove {entries[0].name}" if count == 1 else f"remove {count} images"
        self.undo_stack.push(CallbackCommand(text, redo, undo, nbytes), execute=True,
                             key=PROJECT_HISTORY)

    # -- layers (undoable) -------------------------------------------------------------
    def add_layer(self, entry: ImageEntry, layer: Layer, index: int | None = None) -> None:
        position = len(entry.layers) if index is None else index

        def redo() -> None:
            entry.layers.insert(position, layer)
            self.layer_added.emit(entry, layer, position)

        def undo() -> None:
            entry.layers.remove(layer)
            self.layer_removed.emit(entry, layer)

        size = layer.data.nbytes if isinstance(layer, LabelLayer) else 256
        self.undo_stack.push(CallbackCommand(f"add layer {layer.name}", redo, undo, size), execute=True, entry=entry)

    def remove_layer(self, entry: ImageEntry, layer: Layer) -> None:
        position = entry.layers.index(layer)

        def redo() -> None:
            entry.layers.remove(layer)
            self.layer_removed.emit(entry, layer)

        def undo() -> None:
            entry.layers.insert(position, layer)
            self.layer_added.emit(entry, layer, position)

        size = layer.data.nbytes if isinstance(layer, LabelLayer) else 256
        self.undo_stack.push(CallbackCommand(f"remove layer {layer.name}", redo, undo, size), execute=True,
                             entry=entry)

    def move_layer(self, entry: ImageEntry, layer: Layer, new_index: int) -> None:
        old_index = entry.layers.index(layer)
        new_index = max(0, min(new_index, len(entry.layers) - 1))
        if old_index == new_index:
            return

        def place(index: int) -> Callable[[], None]:
            def apply() -> None:
                entry.layers.remove(layer)
                entry.layers.insert(index, layer)
                self.layers_moved.emit(entry)
            return apply

        self.undo_stack.push(
            CallbackCommand(f"move layer {layer.name}", place(new_index), place(old_index)), execute=True,
            entry=entry)

    def set_layer_property(self, layer: Layer, name: str, value: Any) -> None:
        """Undoable change of a saved layer property (name, visible, opacity, locked, classes)."""
        old = getattr(layer, name)
        if old == value:
            return
        self.undo_stack.push(
            CallbackCommand(
                f"set {name} of {layer.name}",
                lambda: layer.set_property(name, value),
                lambda: layer.set_property(name, old),
            ),
            execute=True, entry=self.entry_of_layer(layer),
        )

    def set_classes(self, layer: LabelLayer, classes: list[LabelClass]) -> None:
        old = list(layer.classes)
        self.undo_stack.push(
            CallbackCommand("edit classes", lambda: layer.set_classes(classes), lambda: layer.set_classes(old)),
            execute=True, entry=self.entry_of_layer(layer),
        )

    # -- status -----------------------------------------------------------------------
    def set_status(self, entry: ImageEntry, status: str, model: str | None = None) -> None:
        self.undo_stack.push(self.status_command(entry, status, model), execute=True, entry=entry)

    def person_edit_status(self, entry: ImageEntry) -> CallbackCommand | None:
        """The status change a person's edit of labels implies (new or predicted -> edited), to
        push in the same undo step as the edit; None when the status stays."""
        if entry.status in ("new", "predicted"):
            return self.status_command(entry, "edited", entry.status_model)
        return None

    def status_command(self, entry: ImageEntry, status: str, model: str | None = None) -> CallbackCommand:
        """An unapplied command setting `entry`'s status (for composite steps)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        old = (entry.status, entry.status_model, entry.modified)
        keeps_model = status in ("reviewed", "edited")
        new = (status, model if status == "predicted" else entry.status_model if keeps_model else None, now())

        def apply(values: tuple) -> Callable[[], None]:
            def run() -> None:
                entry.status, entry.status_model, entry.modified = values
                self.status_changed.emit(entry)
            return run

        return CallbackCommand(f"mark {status}", apply(new), apply(old))


def label_layer_from_annotation(annotation: ImageAnnotation, classes: list[LabelClass],
                                name: str = "labels") -> LabelLayer:
    """A label layer holding an imported annotation (labels, classes, instance info, vectors)."""
    return LabelLayer(
        np.ascontiguousarray(annotation.labels),
        name=name,
        classes=classes,
        instance_classes=annotation.instance_classes,
        instance_info=annotation.instance_info,
        vectors=annotation.vectors,
    )
