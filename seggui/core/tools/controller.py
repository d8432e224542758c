"""The tool controller: routes the canvas's gestures to the active tool on the active label
layer, and makes each user action one command on the document's undo stack."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from psygnal import Signal

from seggui.core.document import Document
from seggui.core.instance_edits import CompositeCommand
from seggui.core.layers import LabelLayer, Rect
from seggui.core.tools.base import Tool
from seggui.core.tools.registry import TOOL_CLASSES
from seggui.core.tools.state import Modifiers, ToolState
from seggui.core.undo import Command


class ToolController:
    """Routes gestures to the active tool on the active label layer; one command per action."""

    message = Signal(str)  # something the user should read ("layer is locked")
    preview_changed = Signal()  # polygon / rectangle / merge selection preview moved

    def __init__(self, document: Document, state: ToolState):
        self.document = document
        self.state = state
        self.layer: LabelLayer | None = None
        self.pick_tolerance = 5.0  # image pixels; the canvas sets it from the zoom
        # The current image's pixels and, optionally, a model's foreground probability map
        # (image-sized, 0..1), for the add_cell tool; set by whoever shows the image.
        self.image_source: Callable[[], np.ndarray | None] | None = None
        self.probability_source: Callable[[], np.ndarray | None] | None = None
        self.tools: dict[str, Tool] = {name: cls(self) for name, cls in TOOL_CLASSES.items()}
        self._active: Tool | None = None  # the tool between press and release
        state.changed.connect(self._on_state_changed)

    @property
    def tool(self) -> Tool:
        return self.tools[self.state.tool]

    @property
    def pressed(self) -> bool:
        """True from a press the active tool took until its release (or a cancel): a gesture under way."""
        return self._active is not None

    @property
    def busy(self) -> bool:
        """True during a gesture (mouse held, or a polygon or merge under way)."""
        tool = self.tool
        return (self._active is not None or bool(getattr(tool, "points", None))
                or bool(getattr(tool, "selected_id", 0)))

    def set_layer(self, layer: LabelLayer | None) -> None:
        if layer is not self.layer:
            self.cancel()
            if self.layer is not None and layer is not None:
                self.state.label_pinned = False  # ids of another layer mean other cells
            self.layer = layer

    def current_image(self) -> np.ndarray | None:
        image = self.image_source() if self.image_source is not None else None
        if image is None or self.layer is None or tuple(image.shape[:2]) != tuple(self.layer.shape):
            return None
        return image

    def choose_label(self, x: float, y: float, new: bool = False) -> int:
        """The label an edit starting at (x, y) writes, made current (see ToolState.auto_label).

        `new` (Shift+stroke) always starts a new cell. Otherwise, unless a label was chosen
        explicitly, the cell under the press is extended and background starts a new cell, so
        a stroke far from the last cell never silently continues it.
        """
        state, layer = self.state, self.layer
        if layer is None:
            return state.label_id
        if new:
            state.set_automatic_label(layer.next_free_id())
        elif state.auto_label and not state.label_pinned:
            ix, iy = int(np.floor(x)), int(np.floor(y))
            height, width = layer.shape
            under = int(layer.data[iy, ix]) if 0 <= ix < width and 0 <= iy < height else 0
            state.set_automatic_label(under or layer.next_free_id())
        return state.label_id

    def _on_state_changed(self, name: str, value: Any) -> None:
        if name == "tool":
            for tool in self.tools.values():
                tool.cancel()
            self._active = None

    def _usable(self, tool: Tool) -> bool:
        if self.layer is None:
            self.message.emit("no label layer to edit: add or select one")
            return False
        if tool.edits and self.layer.locked:
            self.message.emit(f"layer {self.layer.name} is locked")
            return False
        return True

    def press(self, x: float, y: float, modifiers: Modifiers = Modifiers.NONE) -> Rect | None:
        tool = self.tool
        if not self._usable(tool):
            return None
        self._active = tool
        return tool.press(x, y, Modifiers(modifiers))

    def move(self, x: float, y: float) -> Rect | None:
        tool = self._active
        if tool is None or self.layer is None:
            return None
        return tool.move(x, y)

    def release(self, x: float, y: float) -> Rect | None:
        tool, self._active = self._active, None
        if tool is None or self.layer is None:
            return None
        return tool.release(x, y)

    def finish_shape(self) -> Rect | None:
        """Close an open polygon (double-click, Enter)."""
        if self.layer is None or (self.tool.edits and self.layer.locked):
            return None
        return self.tool.finish()

    def cancel(self) -> None:
        for tool in self.tools.values():
            tool.cancel()
        self._active = None

    def new_instance(self) -> int:
        """Make the next free id current, so the brush starts a new cell."""
        if self.layer is not None:
            self.state.label_id = self.layer.next_free_id()  # chosen explicitly: pinned until changed
        return self.state.label_id

    def push(self, command: Command, execute: bool = True) -> Rect | None:
        inner = command.commands[0] if isinstance(command, CompositeCommand) else command
        rect = getattr(inner, "rect", None)
        # A person's edit makes a new or predicted image "edited" in the same undo step, so
        # batch pre-segmentation knows to leave it alone and one Ctrl+Z restores both.
        entry = self.document.entry_of_layer(self.layer) if self.layer is not None else None
        status = self.document.person_edit_status(entry) if entry is not None else None
        if status is not None:
            if not execute:
                status.redo()
            command = CompositeCommand(command.description, [command, status])
        self.document.undo_stack.push(command, execute=execute, entry=entry)
        return rect
