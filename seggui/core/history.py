"""Undo per image: each image keeps its own history while the person moves between images.

One history for a whole project let Ctrl+Z on one image silently revert a stroke made on
another, out of sight. Here every command belongs to the image it changes (given by the
caller, or found from the label layer it edits); undo and redo act on the image on screen
(`current`), and the menu text names that image. All histories share one memory budget:
when it is exceeded the oldest step of any image is dropped first.

`ImageHistories` keeps the face of a single `UndoStack` (push, undo, redo, can_undo,
undo_text, done, is_clean, set_clean, changed, nbytes), so scripts written against
`Document.undo_stack` keep working.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psygnal import Signal

from seggui.core.undo import DEFAULT_UNDO_BUDGET_BYTES, Command, UndoStack

if TYPE_CHECKING:
    from seggui.core.document import Document, ImageEntry

PROJECT_KEY = None  # commands pushed while no image was ever current or edited
# Commands that span images (removing images from the project): their own history, which
# undo and redo interleave with the image on screen's by age, so Ctrl+Z right after a removal
# brings the images back whichever image is then shown.
PROJECT_HISTORY = "<project>"
_UNLIMITED = 1 << 62


class ImageHistories:
    """One `UndoStack` per image id under a shared budget; undo acts on the current image."""

    changed = Signal()
    edited = Signal(object)  # the image id (or a project key) whose history moved: push, undo, redo

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
    def push(self, command: Command, execute: bool = False, entry: "ImageEntry | None" = None,
             key: str | None = None) -> None:
        """Into `entry`'s history, else the history `key` names (PROJECT_HISTORY), else the
        history of the image the command's layer belongs to."""
        if key is None:
            key = entry.id if entry is not None else self._owner(command)
        self._born[id(command)] = next(self._sequence)
        self.for_image(key).push(command, execute=execute)
        self._last = key
        self._enforce_budget()
        self.changed.emit()
        self.edited.emit(key)

    def _age(self, command: Command) -> int:
        return self._born.get(id(command), -1)

    def _undo_key(self) -> str | None:
        """The image on screen's history, or the project's when its newest step is newer."""
        key = self._active_key
        project = self._stacks.get(PROJECT_HISTORY)
        if project is not None and project.done:
            own = self._stacks.get(key)
            if not (own is not None and own.done) or self._age(project.done[-1]) > self._age(own.done[-1]):
                return PROJECT_HISTORY
        return key

    def _redo_key(self) -> str | None:
        """Redo in the reverse order of undo: the step undone last (the older one) first."""
        key = self._active_key
        project = self._stacks.get(PROJECT_HISTORY)
        if project is not None and project.undone:
            own = self._stacks.get(key)
            if not (own is not None and own.undone) or self._age(project.undone[-1]) < self._age(own.undone[-1]):
                return PROJECT_HISTORY
        return key

    def undo(self) -> Command | None:
        key = self._undo_key()
        command = self.for_image(key).undo()
        self.changed.emit()
        if command is not None:
            self.edited.emit(key)
        return command

    def redo(self) -> Command | None:
        key = self._redo_key()
        command = self.for_image(key).redo()
        self.changed.emit()
        if command is not None:
            self.edited.emit(key)
        return command

    @property
    def can_undo(self) -> bool:
        return self.for_image(self._undo_key()).can_undo

    @property
    def can_redo(self) -> bool:
        return self.for_image(self._redo_key()).can_redo

    def _named(self, text: str, key: str | None) -> str:
        entry = self._document.image_by_id(key) if key is not None else None
        return f"{text} on {entry.name}" if text and entry is not None else text

    @property
    def undo_text(self) -> str:
        key = self._undo_key()
        return self._named(self.for_image(key).undo_text, key)

    @property
    def redo_text(self) -> str:
        key = self._redo_key()
        return self._named(self.for_image(key).redo_text, key)

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
    def done(self) -> Sequence[Command]:
        """The applied commands of the image on screen (else the one edited last), oldest first."""
        return self.active.done

    def _enforce_budget(self) -> None:
        # Drop the oldest applied step of any image; always keep the newest step overall.
        total = self.nbytes
        while total > self.budget_bytes:
            candidates = [(self._born.get(id(stack.done[0]), -1), key) for key, stack in self._stacks.items()
                          if stack.done]
            if sum(len(stack.done) for stack in self._stacks.values()) <= 1 or not candidates:
                break
            _, key = min(candidates, key=lambda item: item[0])
            dropped = self._stacks[key].drop_oldest()
            if dropped is None:
                break
            self._born.pop(id(dropped), None)
            total = self.nbytes
