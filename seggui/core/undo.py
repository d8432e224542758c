"""Commands and an undo stack with a memory budget (oldest steps dropped first)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from psygnal import Signal

DEFAULT_UNDO_BUDGET_BYTES = 512 * 1024 * 1024


class Command:
    """One user-visible edit. Subclasses implement redo/undo and report their memory."""

    description = "edit"

    def redo(self) -> None:
        raise NotImplementedError

    def undo(self) -> None:
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        return 0


class CallbackCommand(Command):
    """A small edit expressed as two callables (rename, status change, class change)."""

    def __init__(self, description: str, redo, undo, nbytes: int = 64):
        self.description = description
        self._redo = redo
        self._undo = undo
        self._nbytes = nbytes

    def redo(self) -> None:
        self._redo()

    def undo(self) -> None:
        self._undo()

    @property
    def nbytes(self) -> int:
        return self._nbytes


class UndoStack:
    """Linear history. `push` records a command that has already been applied.

    The clean index marks the state last saved, so "unsaved changes" survives undo/redo
    (undoing back to the saved state makes the document clean again).
    """

    changed = Signal()

    def __init__(self, budget_bytes: int = DEFAULT_UNDO_BUDGET_BYTES):
        self.budget_bytes = int(budget_bytes)
        self._done: deque[Command] = deque()
        self._undone: list[Command] = []
        self._bytes = 0
        self._dropped = 0  # commands forgotten at the bottom; keeps the clean index meaningful
        self._clean_position: int | None = 0

    # position = number of commands applied since the stack began
    @property
    def _position(self) -> int:
        return self._dropped + len(self._done)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._done)

    @property
    def done(self) -> Sequence[Command]:
        """The applied commands, oldest first: undo takes back the last."""
        return self._done

    @property
    def undone(self) -> Sequence[Command]:
        """The undone commands, the one undone last at the end: redo applies it first."""
        return self._undone

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].description if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].description if self._undone else ""

    @property
    def is_clean(self) -> bool:
        return self._clean_position == self._position

    def set_clean(self) -> None:
        self._clean_position = self._position
        self.changed.emit()

    def push(self, command: Command, execute: bool = False) -> None:
        if execute:
            command.redo()
        if self._clean_position is not None and self._clean_position > self._position:
            self._clean_position = None  # the saved state was on the branch we discard
        for dropped in self._undone:
            self._bytes -= dropped.nbytes
        self._undone.clear()
        self._done.append(command)
        self._bytes += command.nbytes
        self._enforce_budget()
        self.changed.emit()

    def undo(self) -> Command | None:
        if not self._done:
            return None
        command = self._done.pop()
        command.undo()
        self._undone.append(command)
        self.changed.emit()
        return command

    def redo(self) -> Command | None:
        if not self._undone:
            return None
        command = self._undone.pop()
        command.redo()
        self._done.append(command)
        self.changed.emit()
        return command

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._bytes = 0
        self._dropped = 0
        self._clean_position = 0
        self.changed.emit()

    def drop_oldest(self) -> Command | None:
        """Forget the oldest applied command (used when a budget shared with others is exceeded)."""
        if not self._done:
            return None
        oldest = self._done.popleft()
        self._bytes -= oldest.nbytes
        self._dropped += 1
        return oldest

    def _enforce_budget(self) -> None:
        # Keep at least the newest command, even when it alone is over the budget.
        while self._bytes > self.budget_bytes and len(self._done) > 1:
            self.drop_oldest()
