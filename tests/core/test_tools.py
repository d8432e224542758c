"""Tool handlers without Qt: each action edits the layer and is one undo step."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from seggui.core.document import Document
from seggui.core.layers import LabelLayer
from seggui.core.instance_edits import instance_boxes
from seggui.core.tools import TOOL_CLASSES, TOOLS, Modifiers, ToolController, ToolState


def make(data: np.ndarray | None = None, **state):
    document = Document()
    layer = LabelLayer(np.zeros((100, 120), np.uint16) if data is None else data)
    tool_state = ToolState(**state)
    controller = ToolController(document, tool_state)
    controller.set_layer(layer)
    return document, layer, tool_state, controller


def two_cells() -> np.ndarray:
    data = np.zeros((100, 120), np.uint16)
    data[10:30, 10:30] = 1
    data[10:30, 30:50] = 2
    data[60:80, 60:90] = 3
    return data


def test_tools_modules_import_no_qt_or_torch():
    sources = sorted((Path(__file__).resolve().parents[2] / "seggui" / "core" / "tools").glob("*.py"))
    assert len(sources) > 1
    names = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
    assert not names & {"PySide6", "PyQt5", "PyQt6", "torch", "pyqtgraph", "superqt"}


def test_every_tool_name_has_its_class():
    assert tuple(TOOL_CLASSES) == TOOLS
    assert all(cls.name == name for name, cls in TOOL_CLASSES.items())


def test_tool_state_emits_and_clamps():
    state = ToolState()
    seen = []
    state.changed.connect(lambda name, value: seen.append((name, value)))
    state.brush_radius = 10000
    state.tool = "fill"
    state.tool = "fill"
    assert seen == [("brush_radius", ToolState.MAX_RADIUS), ("tool", "fill")]
    state.brush_radius = 10
    state.grow_brush()
    assert state.brush_radius == 12
    state.shrink_brush()
    assert state.brush_radius == pytest.approx(10)
    with pytest.raises(ValueError):
        state.tool = "laser"
    with pytest.raises(AttributeError):
        state.colour = 3


def test_brush_stroke_is_gapless_and_one_undo_step():
    document, layer, state, controller = make(label_id=5, brush_radius=2)
    controller.press(10, 50)
    controller.move(100, 50)  # a fast move: one event 90 px away
    controller.release(100, 50)
    assert (layer.data[50, 10:100] == 5).all()
    assert len(document.undo_stack) == 1
    document.undo_stack.undo()
    assert not layer.data.any()
    document.undo_stack.redo()
    assert (layer.data[50, 10:100] == 5).all()


def test_brush_only_background_preserves_other_cells():
    document, layer, state, controller = make(two_cells(), label_id=7, brush_radius=6, only_background=True)
    before = layer.data.copy()
    controller.press(5, 20)
    controller.release(60, 20)
    assert (layer.data[before > 0] == before[before > 0]).all()
    assert (layer.data == 7).any()


def test_shift_brush_starts_new_instance_with_current_class():
    document, layer, state, controller = make(two_cells(), label_id=1, class_id=2)
    controller.press(100, 90, Modifiers.SHIFT)
    controller.release(100, 90)
    assert state.label_id == 4
    assert layer.class_of(4) == 2
    document.undo_stack.undo()
    assert 4 not in layer.instance_classes and not (layer.data == 4).any()


def test_eraser_only_current_label():
    document, layer, state, controller = make(two_cells(), tool="eraser", brush_radius=30,
                                              erase_only_current=True, label_id=1)
    controller.press(30, 20)
    controller.release(30, 20)
    assert not (layer.data == 1).any() and (layer.data == 2).sum() == 400


def test_fill_and_undo_bit_for_bit():
    document, layer, state, controller = make(two_cells(), tool="fill", label_id=9)
    original = layer.data.copy()
    controller.press(15.5, 15.5)
    controller.release(15.5, 15.5)
    assert (layer.data[10:30, 10:30] == 9).all() and (layer.data == 2).sum() == 400
    document.undo_stack.undo()
    assert np.array_equal(layer.data, original)


def test_polygon_clicks_close_on_first_vertex_and_lasso_drag():
    document, layer, state, controller = make(tool="polygon", label_id=4)
    controller.pick_tolerance = 3
    for x, y in [(10, 10), (50, 10), (50, 40), (10, 40)]:
        controller.press(x, y)
        controller.release(x, y)
    assert not layer.data.any()  # still open
    controller.press(11, 11)
    controller.release(11, 11)
    assert (layer.data[15:35, 15:45] == 4).all() and len(document.undo_stack) == 1
    state.label_id = 5
    controller.press(70, 60)
    for x, y in [(100, 60), (100, 90), (70, 90)]:
        controller.move(x, y)
    controller.release(70, 90)
    assert (layer.data[65:85, 75:95] == 5).all() and len(document.undo_stack) == 2


def test_pick_sets_label_and_class():
    document, layer, state, controller = make(two_cells(), tool="pick")
    layer.instance_classes[3] = 2
    controller.press(70, 70)
    controller.release(70, 70)
    assert (state.label_id, state.class_id) == (3, 2)
    assert len(document.undo_stack) == 0


def test_delete_instance_is_sparse_and_restores_class():
    document, layer, state, controller = make(two_cells(), tool="delete")
    layer.instance_classes[3] = 2
    original = layer.data.copy()
    controller.press(70, 70)
    controller.release(70, 70)
    assert not (layer.data == 3).any() and 3 not in layer.instance_classes
    command = document.undo_stack.done[-1]
    assert command.commands[0].indices.size == 600  # only the instance's pixels are stored
    document.undo_stack.undo()
    assert np.array_equal(layer.data, original) and layer.instance_classes[3] == 2


def test_merge_two_instances():
    document, layer, state, controller = make(two_cells(), tool="merge")
    controller.press(15, 15)
    controller.release(15, 15)
    controller.press(35, 15)
    controller.release(35, 15)
    assert (layer.data[10:30, 10:50] == 1).all() and len(document.undo_stack) == 1
    document.undo_stack.undo()
    assert (layer.data[10:30, 30:50] == 2).all()


def test_boxes_follow_edits_including_disconnected_parts():
    document, layer, state, controller = make(two_cells(), tool="brush", label_id=3, brush_radius=2)
    boxes = instance_boxes(layer)
    assert boxes.box(3) == (60, 60, 80, 90)
    controller.press(110, 5)  # a far, disconnected piece of instance 3
    controller.release(110, 5)
    state.tool = "delete"
    controller.press(70, 70)
    controller.release(70, 70)
    assert not (layer.data == 3).any()


def test_erase_region_rectangle_and_lasso():
    document, layer, state, controller = make(two_cells(), tool="erase_region")
    controller.press(5, 5)
    controller.move(20, 40)
    controller.release(40, 40)
    assert not layer.data[5:40, 5:40].any() and (layer.data[10:30, 40:50] == 2).all()
    assert len(document.undo_stack) == 1
    controller.press(55, 55, Modifiers.ALT)
    for x, y in [(95, 55), (95, 85)]:
        controller.move(x, y)
    controller.release(55, 85)
    assert (layer.data == 3).sum() < 600


def test_set_class_tool_undoable():
    document, layer, state, controller = make(two_cells(), tool="set_class", class_id=3)
    controller.press(15, 15)
    assert layer.class_of(1) == 3
    document.undo_stack.undo()
    assert layer.class_of(1) == layer.default_class_id


def test_locked_layer_refuses_edits_but_allows_pick():
    document, layer, state, controller = make(two_cells())
    layer.locked = True
    messages = []
    controller.message.connect(messages.append)
    controller.press(15, 15)
    controller.release(15, 15)
    assert (layer.data[10:30, 10:30] == 1).all() and messages and len(document.undo_stack) == 0
    state.tool = "pick"
    controller.press(35, 15)
    assert state.label_id == 2


def test_new_instance_uses_next_free_id():
    document, layer, state, controller = make(two_cells())
    assert controller.new_instance() == 4


# -- which label a stroke paints; fills that would flood -----------------------------------------
def stroke_at(controller, x, y, modifiers=Modifiers.NONE):
    controller.press(x, y, modifiers)
    controller.move(x + 2, y)
    controller.release(x + 2, y)


def test_stroke_on_background_starts_a_new_cell_and_in_a_cell_extends_it():
    document, layer, state, controller = make(two_cells())
    state.set_automatic_label(1)  # as after accepting a proposal: nothing chosen by the person
    stroke_at(controller, 100, 90)  # far from every cell
    assert layer.data[90, 100] == 4 and state.label_id == 4  # a new cell, not a stray piece of cell 1
    stroke_at(controller, 40, 20)  # starts inside cell 2
    assert layer.data[20, 42] == 2 and state.label_id == 2
    assert (layer.data == 1).sum() == 400  # cell 1 untouched (20x20)


def test_a_label_picked_explicitly_stays_until_changed():
    document, layer, state, controller = make(two_cells())
    state.tool = "pick"
    controller.press(15, 15)
    assert state.label_id == 1 and state.label_pinned
    state.tool = "brush"
    stroke_at(controller, 100, 90)
    stroke_at(controller, 70, 65)  # inside cell 3: still paints the picked cell 1
    assert layer.data[90, 100] == 1 and layer.data[65, 70] == 1
    stroke_at(controller, 100, 50, Modifiers.SHIFT)  # Shift: a new cell, and automatic again
    assert layer.data[50, 100] == 4 and not state.label_pinned


def test_setting_keeps_the_old_behaviour():
    document, layer, state, controller = make(two_cells(), auto_label=False)
    state.set_automatic_label(1)
    stroke_at(controller, 100, 90)
    assert layer.data[90, 100] == 1


def test_fill_refuses_background_open_to_the_edge_and_floods_and_says_why():
    data = two_cells()
    data[40:60, 5:25] = 5
    data[45:55, 10:20] = 0  # a closed hole inside cell 5
    document, layer, state, controller = make(data, tool="fill")
    messages = []
    controller.message.connect(messages.append)
    before = layer.data.copy()
    controller.press(110, 5)  # the open background
    assert np.array_equal(layer.data, before) and "open to the image edge" in messages[-1]
    controller.press(15, 50)  # the hole: a closed outline, filled with a new cell
    assert layer.data[50, 15] == 6 and (layer.data[45:55, 10:20] == 6).all()
    state.fill_max_share = 0.01
    state.set_automatic_label(9)
    controller.press(15, 15)  # recolour cell 1 (4% of the image): above the limit now
    assert layer.data[15, 15] == 1 and "above the limit of 1%" in messages[-1]


def dumbbell() -> np.ndarray:
    """One cell shaped as two disks joined by a thin neck, next to another cell."""
    yy, xx = np.mgrid[:100, :120]
    data = np.zeros((100, 120), np.uint16)
    data[((yy - 50) ** 2 + (xx - 35) ** 2 <= 14 ** 2) | ((yy - 50) ** 2 + (xx - 75) ** 2 <= 14 ** 2)
         | ((abs(yy - 50) <= 2) & (xx >= 35) & (xx <= 75))] = 4
    data[5:15, 5:15] = 9
    return data


@pytest.mark.parametrize("clicks", [[(35, 50), (75, 50)], [(30, 48)]])
def test_split_tool_splits_a_dumbbell_in_one_undo_step(clicks):
    original = dumbbell()
    document, layer, state, controller = make(original.copy(), tool="split")
    layer.instance_classes[4] = 2
    for x, y in clicks:
        controller.press(x, y)
        controller.release(x, y)
    assert controller.busy  # waiting for Enter
    controller.finish_shape()
    assert len(document.undo_stack) == 1 and not controller.busy
    left, right = int(layer.data[50, 35]), int(layer.data[50, 75])
    assert left == 4 and right == 10  # the first click's part keeps the id; the next free id
    assert set(np.unique(layer.data).tolist()) == {0, 4, 9, 10}
    assert np.array_equal(layer.data > 0, original > 0)  # nothing painted outside the cell
    assert abs(int((layer.data == 4).sum()) - int((layer.data == 10).sum())) < 80  # split at the neck
    assert layer.instance_classes[10] == 2  # the new part keeps the class
    document.undo_stack.undo()
    assert np.array_equal(layer.data, original) and 10 not in layer.instance_classes


def test_split_tool_ignores_clicks_outside_the_cell_and_refuses_a_convex_cell():
    document, layer, state, controller = make(two_cells(), tool="split")
    messages = []
    controller.message.connect(messages.append)
    for x, y in ((65, 70), (15, 15)):  # clicks; the second on another cell: ignored
        controller.press(x, y)
        controller.release(x, y)
    assert len(controller.tool.points) == 1
    controller.finish_shape()  # one click in a box: no neck to split at
    assert len(document.undo_stack) == 0 and messages


def blob_image():
    yy, xx = np.mgrid[:100, :120]
    rng = np.random.default_rng(0)
    image = 20 + rng.normal(0, 3, (100, 120))
    blob = (yy - 60) ** 2 + (xx - 70) ** 2 <= 10 ** 2
    image[blob] += 150
    image[20:40, 20:40] += 150  # a labelled cell
    return np.clip(image, 0, 255).astype(np.uint8), blob


def test_add_cell_adds_a_blob_at_a_click_without_touching_labels():
    image, blob = blob_image()
    data = np.zeros((100, 120), np.uint16)
    data[20:40, 20:40] = 1
    data[55:62, 58:68] = 2  # a labelled cell overlapping the blob
    original = data.copy()
    document, layer, state, controller = make(data, tool="add_cell", class_id=3)
    controller.image_source = lambda: image
    controller.press(72, 66)
    controller.release(72, 66)
    assert len(document.undo_stack) == 1
    added = layer.data == 3
    assert added.any() and int(layer.data[66, 72]) == 3
    assert np.array_equal(layer.data[original > 0], original[original > 0])  # labels untouched
    free_blob = blob & (original == 0)
    assert (added & free_blob).sum() >= 0.85 * free_blob.sum() and (added & ~blob).sum() < 0.15 * added.sum()
    assert layer.class_of(3) == 3
    controller.press(25, 25)  # on a cell: refused
    assert len(document.undo_stack) == 1
    document.undo_stack.undo()
    assert np.array_equal(layer.data, original)


def test_add_cell_from_a_probability_map_with_relaxed_threshold():
    from seggui.core.assisted import add_cell_mask

    yy, xx = np.mgrid[:80, :80]
    probability = np.where((yy - 40) ** 2 + (xx - 40) ** 2 <= 8 ** 2, 0.35, 0.02).astype(np.float32)
    labels = np.zeros((80, 80), np.uint16)
    flat = np.zeros((80, 80), np.uint8)  # nothing to see in the image: the map decides
    rect, mask = add_cell_mask(flat, 40, 40, labels, probability)
    assert mask.sum() == ((yy - 40) ** 2 + (xx - 40) ** 2 <= 64).sum()
    assert add_cell_mask(flat, 40, 40, labels) is None  # a flat image alone finds nothing


def test_add_cell_without_an_image_says_so():
    document, layer, state, controller = make(tool="add_cell")
    messages = []
    controller.message.connect(messages.append)
    controller.press(10, 10)
    assert len(document.undo_stack) == 0 and messages


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(1, int((a | b).sum()))


@pytest.mark.parametrize("dark", [False, True])
def test_box_cell_finds_the_cell_in_a_drawn_box_in_one_undo_step(dark):
    image, blob = blob_image()
    if dark:  # a dark cell on a bright background (brightfield)
        image = (255 - image).astype(np.uint8)
    data = np.zeros((100, 120), np.uint16)
    data[20:40, 20:40] = 1
    document, layer, state, controller = make(data.copy(), tool="box_cell", class_id=2)
    controller.image_source = lambda: image
    controller.press(56, 46)
    controller.move(70, 60)
    assert controller.tool.points  # the box is previewed while dragging
    controller.release(85, 75)
    assert len(document.undo_stack) == 1
    added = layer.data == 2
    assert iou(added, blob) >= 0.8 and layer.class_of(2) == 2
    assert np.array_equal(layer.data[20:40, 20:40], data[20:40, 20:40])
    document.undo_stack.undo()
    assert np.array_equal(layer.data, data)


def test_box_cell_prefers_the_model_map_and_refuses_a_tiny_box():
    from seggui.core.box_cell import box_cell_mask

    yy, xx = np.mgrid[:80, :80]
    cell = (yy - 40) ** 2 + (xx - 40) ** 2 <= 8 ** 2
    probability = np.where(cell, 0.3, 0.01).astype(np.float32)
    labels = np.zeros((80, 80), np.uint16)
    rect, mask = box_cell_mask(np.zeros((80, 80), np.uint8), (28, 28, 53, 53), labels, probability)
    full = np.zeros((80, 80), bool)
    full[rect[0]:rect[2], rect[1]:rect[3]] = mask
    assert np.array_equal(full, cell)
    document, layer, state, controller = make(tool="box_cell")
    controller.image_source = lambda: np.zeros((64, 64), np.uint8)
    messages = []
    controller.message.connect(messages.append)
    controller.press(10, 10)
    controller.release(11, 11)
    assert len(document.undo_stack) == 0 and "drag a box" in messages[-1]


def test_box_cell_over_background_adds_no_square():
    image, blob = blob_image()
    document, layer, state, controller = make(np.zeros((100, 120), np.uint16), tool="box_cell")
    controller.image_source = lambda: image
    controller.press(80, 5)  # a box over empty background, far from the blob and the square
    controller.release(115, 35)
    added = layer.data > 0
    assert added.sum() < 0.2 * 35 * 30  # never the box itself


def test_split_tool_cuts_a_cell_along_a_dragged_line_in_one_undo_step():
    data = np.zeros((60, 80), np.uint16)
    data[10:50, 10:70] = 4
    document, layer, state, controller = make(data.copy(), tool="split", class_id=2)
    layer.instance_classes[4] = 2
    layer.instance_info[4] = {"verified": True}
    controller.press(45.5, 5.5)  # from background above, across the cell, to background below
    controller.move(40.5, 30.5)
    assert controller.tool.line == ((45.5, 5.5), (40.5, 30.5))  # previewed while dragging
    controller.release(40.5, 55.5)
    assert len(document.undo_stack) == 1 and controller.tool.line is None
    ids = set(np.unique(layer.data)) - {0}
    assert len(ids) == 2 and 4 in ids
    assert ((layer.data > 0) == (data > 0)).all()  # the cut's pixels went to a part, none lost
    new = (ids - {4}).pop()
    assert (layer.data == 4).sum() > (layer.data == new).sum()  # the larger piece keeps the id
    assert layer.instance_classes[new] == 2 and layer.instance_info[4] == {"verified": True}
    document.undo_stack.undo()
    assert np.array_equal(layer.data, data)


def test_a_line_that_does_not_cut_a_cell_is_the_click_where_it_began():
    data = np.zeros((60, 80), np.uint16)
    data[10:50, 10:70] = 4
    document, layer, state, controller = make(data.copy(), tool="split")
    controller.press(30.5, 30.5)
    controller.release(36.5, 32.5)  # a shaky click inside the cell
    assert len(document.undo_stack) == 0 and controller.tool.points == [(30.5, 30.5)]
    controller.press(2.5, 2.5)
    controller.release(8.5, 4.5)  # a drag over background only: nothing
    assert len(document.undo_stack) == 0
