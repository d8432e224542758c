"""Editing tools: mouse gestures on image coordinates turned into undoable label edits.

Qt-free so that every tool can be tested without a display. The canvas converts Qt events
to image coordinates and calls `ToolController.press/move/release`; each user action
(one stroke, one fill, one polygon, one delete...) becomes exactly one command on the
document's undo stack. Handlers return the rectangle they changed (or None); the layer's
`data_changed` signal announces the same rectangle to every view.

Costs follow the edited area, never the image size: strokes are capsules around the mouse
segment, fills use a growing window, and whole-instance edits (delete, merge) read only
the instance's bounding box, taken from a per-layer box index that is updated by the
rectangles the layer announces.

The tools, one module per family (no Qt):

    state       TOOLS (the names), Modifiers, ToolState (the tool chosen and its settings)
    base        Tool, DragTool and the helpers they share (dragged_rect)
    painting    brush, eraser, fill
    shapes      polygon, erase_region
    instances   pick, delete, merge, set_class
    assisted    split, add_cell, box_cell
    registry    TOOL_CLASSES: every tool class by name
    controller  ToolController

The names below are the package's public face: `from seggui.core.tools import ToolController`.
"""

from seggui.core.tools.assisted import AddCellTool, BoxCellTool, SplitTool
from seggui.core.tools.base import DragTool, Tool, dragged_rect
from seggui.core.tools.controller import ToolController
from seggui.core.tools.instances import DeleteTool, MergeTool, PickTool, SetClassTool
from seggui.core.tools.painting import BrushTool, EraserTool, FillTool, fill_problem
from seggui.core.tools.registry import TOOL_CLASSES
from seggui.core.tools.shapes import EraseRegionTool, PolygonTool
from seggui.core.tools.state import TOOLS, Modifiers, ToolState

__all__ = [
    "TOOLS",
    "TOOL_CLASSES",
    "AddCellTool",
    "BoxCellTool",
    "BrushTool",
    "DeleteTool",
    "DragTool",
    "EraseRegionTool",
    "EraserTool",
    "FillTool",
    "MergeTool",
    "Modifiers",
    "PickTool",
    "PolygonTool",
    "SetClassTool",
    "SplitTool",
    "Tool",
    "ToolController",
    "ToolState",
    "dragged_rect",
    "fill_problem",
]
