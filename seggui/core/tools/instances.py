"""Tools that act on a whole cell at a click: pick, delete, merge and set class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seggui.core.instance_edits import (
    class_table_command,
    delete_instance_command,
    instance_boxes,
    merge_instances_command,
)
from seggui.core.tools.base import Tool

if TYPE_CHECKING:
    from seggui.core.tools.controller import ToolController


class PickTool(Tool):
    name = "pick"
    edits = False

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        if not instance_id:
            self.state.label_pinned = False  # picking background goes back to automatic
        if instance_id:
            self.state.label_id = instance_id  # pins it
            class_id = self.layer.class_of(instance_id)
            if class_id is not None:
                self.state.class_id = class_id
        return None


class DeleteTool(Tool):
    name = "delete"

    def press(self, x, y, modifiers):
        command = delete_instance_command(self.layer, self.id_at(x, y))
        return None if command is None else self.controller.push(command)


class MergeTool(Tool):
    """First click chooses the instance to keep; the second click merges another into it."""

    name = "merge"

    def __init__(self, controller: "ToolController"):
        super().__init__(controller)
        self.selected_id = 0

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        if not self.selected_id:
            self.selected_id = instance_id
            self.controller.preview_changed.emit()
            return None
        keep_id, self.selected_id = self.selected_id, 0
        self.controller.preview_changed.emit()
        command = merge_instances_command(self.layer, keep_id, instance_id)
        return None if command is None else self.controller.push(command)

    def cancel(self) -> None:
        self.selected_id = 0
        self.controller.preview_changed.emit()


class SetClassTool(Tool):
    name = "set_class"

    def press(self, x, y, modifiers):
        instance_id = self.id_at(x, y)
        class_id = self.state.class_id
        if not instance_id or self.layer.class_of(instance_id) == class_id:
            return None
        command = class_table_command(self.layer, instance_id, class_id, f"set class of {instance_id}")
        self.controller.push(command)
        return instance_boxes(self.layer).box(instance_id)
