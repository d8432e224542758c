import numpy as np
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from seggui.core.document import Document
from seggui.core.layers import LabelLayer
from seggui.core.paint import StrokeRecorder, change_command, fill_command, polygon_mask
from seggui.core.undo import CallbackCommand, UndoStack


def paint(layer, stack, points, value, radius, only_background=False):
    recorder = StrokeRecorder(layer, value, radius, only_background=only_background)
    for x, y in points:
        recorder.add_point(x, y)
    command = recorder.finish()
    if command is not None:
        stack.push(command)
    return command


class UndoAgainstReference(RuleBasedStateMachine):
    """Every edit/undo/redo sequence must match a model that keeps full copies."""

    def __init__(self):
        super().__init__()
        self.layer = LabelLayer(np.zeros((24, 32), np.uint16))
        self.stack = UndoStack()
        self.past = [self.layer.data.copy()]  # reference: states up to the current one
        self.future = []

    def _record(self, command):
        if command is not None:
            self.past.append(self.layer.data.copy())
            self.future.clear()

    @rule(points=st.lists(st.tuples(st.floats(-5, 40), st.floats(-5, 30)), min_size=1, max_size=4),
          value=st.integers(0, 70000), radius=st.floats(0.5, 6), only_background=st.booleans())
    def stroke(self, points, value, radius, only_background):
        self._record(paint(self.layer, self.stack, points, value, radius, only_background))

    @rule(x=st.integers(0, 31), y=st.integers(0, 23), value=st.integers(0, 9))
    def fill(self, x, y, value):
        command = fill_command(self.layer, x, y, value)
        if command is not None:
            self.stack.push(command, execute=True)
        self._record(command)

    @precondition(lambda self: len(self.past) > 1)
    @rule()
    def undo(self):
        self.stack.undo()
        self.future.append(self.past.pop())

    @precondition(lambda self: self.future)
    @rule()
    def redo(self):
        self.stack.redo()
        self.past.append(self.future.pop())

    @invariant()
    def matches_reference(self):
        np.testing.assert_array_equal(self.layer.data, self.past[-1])


TestUndoAgainstReference = UndoAgainstReference.TestCase
TestUndoAgainstReference.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_stroke_interpolates_fast_moves_without_gaps():
    layer = LabelLayer(np.zeros((50, 200), np.uint16))
    stack = UndoStack()
    paint(layer, stack, [(5, 25), (195, 25)], 3, 2)  # one jump across the image
    assert (layer.data[25, 5:195] == 3).all()
    assert len(stack) == 1


def test_only_background_preserves_other_cells():
    layer = LabelLayer(np.zeros((40, 40), np.uint16))
    layer.data[10:30, 10:30] = 7
    stack = UndoStack()
    paint(layer, stack, [(0, 20), (39, 20)], 9, 3, only_background=True)
    assert (layer.data[10:30, 10:30] == 7).all()
    assert (layer.data[20, :10] == 9).all()


def test_stroke_records_only_changed_pixels_and_undo_is_bit_exact():
    rng = np.random.default_rng(0)
    original = rng.integers(0, 5, (64, 64)).astype(np.uint16)
    layer = LabelLayer(original.copy())
    stack = UndoStack()
    command = paint(layer, stack, [(10, 10), (50, 50), (10, 50)], 4, 5)
    changed = int((layer.data != original).sum())
    assert command.indices.size == changed  # nothing recorded that did not change
    stack.undo()
    np.testing.assert_array_equal(layer.data, original)


def test_label_widens_to_uint32_when_ids_exceed_uint16():
    layer = LabelLayer(np.zeros((8, 8), np.uint16))
    stack = UndoStack()
    paint(layer, stack, [(4, 4)], 70000, 1)
    assert layer.data.dtype == np.uint32 and layer.data[4, 4] == 70000
    stack.undo()
    assert layer.data[4, 4] == 0


def test_data_changed_reports_only_the_touched_rectangle():
    layer = LabelLayer(np.zeros((1000, 1000), np.uint16))
    rects = []
    layer.data_changed.connect(rects.append)
    StrokeRecorder(layer, 1, 5).add_point(500, 500)
    (y0, x0, y1, x1), = rects
    assert (y1 - y0) <= 12 and (x1 - x0) <= 12 and y0 >= 490


def test_fill_follows_region_not_image_and_polygon():
    layer = LabelLayer(np.zeros((300, 300), np.uint16))
    layer.data[100:120, 100:120] = 5
    command = fill_command(layer, 105, 105, 8)
    command.redo()
    assert (layer.data[100:120, 100:120] == 8).all() and layer.data.sum() == 8 * 400
    rect, mask = polygon_mask(np.array([[10, 10], [50, 10], [50, 50], [10, 50]]), layer.shape)
    assert mask.sum() >= 40 * 40


def test_budget_drops_oldest_steps_first():
    stack = UndoStack(budget_bytes=1000)
    log = []
    for index in range(10):
        stack.push(CallbackCommand(str(index), lambda: None, lambda i=index: log.append(i), nbytes=300))
    assert len(stack) == 3 and stack.nbytes <= 1000
    while stack.can_undo:
        stack.undo()
    assert log == [9, 8, 7]


def test_clean_state_follows_undo_and_redo():
    document = Document()
    layer = LabelLayer(np.zeros((20, 20), np.uint16))
    assert not document.dirty
    paint(layer, document.undo_stack, [(5, 5)], 1, 2)
    assert document.dirty
    document.mark_clean()
    paint(layer, document.undo_stack, [(15, 15)], 2, 2)
    assert document.dirty
    document.undo_stack.undo()
    assert not document.dirty  # back at the saved state
    document.undo_stack.undo()
    assert document.dirty


@pytest.mark.slow
def test_200_strokes_on_8192_square_fit_the_default_budget():
    layer = LabelLayer(np.zeros((8192, 8192), np.uint16))
    before = layer.data.copy()
    document = Document()  # default 512 MB budget
    rng = np.random.default_rng(0)
    for stroke in range(200):
        start = rng.uniform(0, 8192, 2)
        points = start + np.cumsum(rng.normal(0, 15, (40, 2)), axis=0)  # ~40 moves, a few hundred px
        paint(layer, document.undo_stack, [tuple(p) for p in points], stroke + 1, 25)
    assert len(document.undo_stack) == 200, "strokes were dropped from the history"
    assert document.undo_stack.nbytes < 512 * 1024 * 1024
    while document.undo_stack.can_undo:
        document.undo_stack.undo()
    np.testing.assert_array_equal(layer.data, before)


def test_change_command_stores_sparse_difference():
    layer = LabelLayer(np.zeros((100, 100), np.uint16))
    new_region = np.zeros((10, 10), np.uint16)
    new_region[2, 3] = 4
    command = change_command(layer, (50, 50, 60, 60), new_region, "set")
    assert command.indices.size == 1
    command.redo()
    assert layer.data[52, 53] == 4
    command.undo()
    assert layer.data.max() == 0
