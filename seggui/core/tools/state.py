"""What the user chose: the tool by name, its settings, and the modifier keys of a gesture.

The names in `TOOLS` are the tools of `seggui.core.tools.registry.TOOL_CLASSES`; this module
imports no tool, so every tool module may import it.
"""

from __future__ import annotations

from enum import IntFlag
from typing import Any

from psygnal import Signal

TOOLS = ("brush", "eraser", "fill", "polygon", "pick", "delete", "merge", "erase_region", "set_class",
         "split", "add_cell", "box_cell")


class Modifiers(IntFlag):
    NONE = 0
    SHIFT = 1
    CONTROL = 2
    ALT = 4


class ToolState:
    """What the user chose: the tool and its settings. Emits changed(name, value)."""

    changed = Signal(str, object)

    _defaults: dict[str, Any] = {
        "tool": "brush",
        "brush_radius": 10.0,
        "label_id": 1,  # the instance the brush, fill and polygon write
        "class_id": 1,  # class given to new instances and by the set_class tool
        "only_background": False,  # "preserve other cells": paint only where labels are 0
        "erase_only_current": False,  # eraser / erase_region clear only label_id
        "region_shape": "rectangle",  # erase_region: "rectangle" or "lasso"
        # A stroke (or polygon, or fill) that starts on background makes a new cell, one that
        # starts inside a cell extends it, unless a label was chosen explicitly (pick tool, New
        # instance): then that label stays until changed. False: always paint label_id (old way).
        "auto_label": True,
        "label_pinned": False,  # label_id was chosen explicitly
        "fill_max_share": 0.25,  # a fill larger than this share of the image is refused
    }
    MIN_RADIUS = 0.5
    MAX_RADIUS = 500.0

    def __init__(self, **values: Any):
        for name, value in self._defaults.items():
            object.__setattr__(self, name, value)
        for name, value in values.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._defaults:
            raise AttributeError(f"ToolState has no setting {name!r}")
        if name == "tool" and value not in TOOLS:
            raise ValueError(f"unknown tool {value!r}; expected one of {', '.join(TOOLS)}")
        if name == "brush_radius":
            value = float(min(max(value, self.MIN_RADIUS), self.MAX_RADIUS))
        if name in ("label_id", "class_id"):
            value = int(value)
        if name == "fill_max_share":
            value = float(min(max(value, 0.0), 1.0))
        if name == "label_id":
            self.label_pinned = True  # set from outside (pick tool, New instance, a script): explicit
        if getattr(self, name) != value:
            object.__setattr__(self, name, value)
            self.changed.emit(name, value)

    def set_automatic_label(self, value: int) -> None:
        """Make `value` current as the tools' own choice, leaving the label unpinned."""
        self.label_pinned = False
        if self.label_id != int(value):
            object.__setattr__(self, "label_id", int(value))
            self.changed.emit("label_id", int(value))

    def grow_brush(self, factor: float = 1.2) -> None:
        # Multiplicative steps feel even from 1 px to hundreds; +1 keeps small brushes moving.
        self.brush_radius = max(self.brush_radius * factor, self.brush_radius + 1)

    def shrink_brush(self, factor: float = 1.2) -> None:
        self.brush_radius = min(self.brush_radius / factor, self.brush_radius - 1)
