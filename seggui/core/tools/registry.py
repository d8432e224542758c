"""Every tool class by its name (the names of `seggui.core.tools.state.TOOLS`).

A new tool goes in its family's module and here; this is the one module that imports the
families, so that none of them imports another through it.
"""

from __future__ import annotations

from seggui.core.tools.assisted import AddCellTool, BoxCellTool, SplitTool
from seggui.core.tools.base import Tool
from seggui.core.tools.instances import DeleteTool, MergeTool, PickTool, SetClassTool
from seggui.core.tools.painting import BrushTool, EraserTool, FillTool
from seggui.core.tools.shapes import EraseRegionTool, PolygonTool


TOOL_CLASSES: dict[str, type[Tool]] = {
    cls.name: cls for cls in (BrushTool, EraserTool, FillTool, PolygonTool, PickTool, DeleteTool,
                              MergeTool, EraseRegionTool, SetClassTool, SplitTool, AddCellTool, BoxCellTool)
}
