"""Undo per image: each image keeps its own history while the person moves between images.

One history for a whole project let Ctrl+Z on one image silently revert a stroke made on
another, out of sight. Here every command belongs to the image it changes (given by the
caller, or found from the label layer it edits); undo and redo act on the image on screen
(`current`), and the menu text names that image. All histories share one memory budget:
when it is exceeded the oldest step of any image is dropped first.

`ImageHistories` keeps the face of a single `UndoStack` (push, undo, redo, can_undo,
undo_text, is_clean, set_clean, changed, nbytes), so scripts written against
`Document.undo_stack` keep working.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from psygnal import Signal

from seggui.core.undo import DEFAULT_UNDO_BUDGET_BYTES, Command, UndoStack

if TYPE_CHECKING:
    from seggui.core.document import Document, ImageEntry

PROJECT_KEY = None  # commands that belong to no single image (rare: none in the GUI today)
_UNLIMITED = 1 << 62


class ImageHistories:
    """One `UndoStack` per image id under a shared budget; undo acts on the current image."""

    changed = Signal()

    def __init__(self, document: "Document", budget_bytes: int = DEFAULT_UNDO_BUDGET_BYTES):
        self._document = document
        self.budget_bytes = int(budget_bytes)
        self._stacks: dict[str | None, UndoStack] = {}
        self._sequence = itertools.count()
        self._born: dict[int, int] = {}  # id(command) -> push order, to drop the oldest first
        self.current: str | None = None  # image id on screen; None: the image edited last
        self._last: str | None = None

    # -- which history ----------------------------------------------------------------------
    def for_image(self, entry: "ImageEntry | str | None") -> UndoStack:
        key = entry if isinstance(entry, str) or entry is None else entry.id
        stack = self._stacks.get(key)
        if stack is None:
            stack = self._stacks[key] = UndoStack(_UNLIMITED)
        return stack

    def set_current(self, entry: "ImageEntry | None") -> None:
        key = None if entry is None else entry.id
        if key != self.current:
            self.current = key
            self.changed.emit()

    @property
    def _active_key(self) -> str | None:
        return self.current if self.current is not None else self._last

    @property
    def active(self) -> UndoStack:
        return self.for_image(self._active_key)

    def _owner(self, command: Command) -> str | None:
        inner = getattr(command, "commands", None)
        layer = getattr(inner[0] if inner else command, "layer", None)
        if layer is not None:
            entry = self._document.entry_of_layer(layer)
            if entry is not None:
                return entry.id
        return self.current if self.current is not None else self._last

    # -- the UndoStack face ------------------------------------------------------------------
    def push(self, command: Command, execute: bool = False, entry: "ImageEntry | None" = None) -> None:
        key = entry.id if entry is not None else self._owner(command)
        self._born[id(command)] = next(self._sequence)
        self.for_image(key).push(command, execute=execute)
        self._last = key
        self._enforce_budget()
        self.changed.emit()

    def undo(self) -> Command | None:
        command = self.active.undo()
        self.changed.emit()
        return command

    def redo(self) -> Command | None:
        command = self.active.redo()
        self.changed.emit()
        return command

    @property
    def can_undo(self) -> bool:
        return self.active.can_undo

    @property
    def can_redo(self) -> bool:
        return self.active.can_redo

    def _named(self, text: str) -> str:
        key = self._active_key
        entry = self._document.image_by_id(key) if key is not None else None
        return f"{text} on {entry.name}" if text and entry is not None else text

    @property
    def undo_text(self) -> str:
        return self._named(self.active.undo_text)

    @property
    def redo_text(self) -> str:
        return self._named(self.active.redo_text)

    @property
    def is_clean(self) -> bool:
        return all(stack.is_clean for stack in self._stacks.values())

    def set_clean(self) -> None:
        for stack in self._stacks.values():
            stack.set_clean()
        self.changed.emit()

    def clear(self) -> None:
        self._stacks.clear()
        self._born.clear()
        self.changed.emit()

    def forget(self, entry: "ImageEntry") -> None:
        """Drop an image's history (the image left the project for good)."""
        stack = self._stacks.pop(entry.id, None)
        if stack is not None and not stack.is_clean:
            self._stacks[f"removed:{entry.id}"] = stack  # keeps the document dirty until saved
        self.changed.emit()

    @property
    def nbytes(self) -> int:
        return sum(stack.nbytes for stack in self._stacks.values())

    def __len__(self) -> int:
        return len(self.active)

    @property
    def _done(self) -> Any:  # the active image's applied commands, newest last
        return self.active._done

    def _enforce_budget(self) -> None:
        # Drop the oldest applied step of any image; always keep the newest step overall.
        total = self.nbytes
        while total > self.budget_bytes:
            candidates = [(self._born.get(id(stack._done[0]), -1), key) for key, stack in self._stacks.items()
                          if stack._done]
            if sum(len(stack._done) for stack in self._stacks.values()) <= 1 or not candidates:
                break
            _, key = min(candidates, key=lambda item: item[0])
            dropped = self._stacks[key].drop_oldest()
            if dropped is None:
                break
            self._born.pop(id(dropped), None)
            total = self.nbytes
