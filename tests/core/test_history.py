"""Undo per image: Ctrl+Z never reaches an image that is not on screen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from seggui.core.document import Document, ImageEntry, ImageSource
from seggui.core.layers import ImageLayer, LabelLayer
from seggui.core.paint import StrokeRecorder


def document_with(count: int, shape=(24, 32), budget: int | None = None) -> Document:
    document = Document(undo_budget_bytes=budget)
    for index in range(count):
        entry = ImageEntry(ImageSource(Path(f"/images/image{index}.png"), *shape))
        entry.set_layers([ImageLayer(np.zeros(shape, np.uint8), "image"), LabelLayer.empty(shape, name="labels")])
        document.add_image(entry)
    return document


def stroke(document: Document, entry: ImageEntry, value: int, x: float = 10, y: float = 10, radius: float = 3):
    recorder = StrokeRecorder(entry.label_layers[0], value, radius)
    recorder.add_point(x, y)
    command = recorder.finish()
    if command is not None:  # None: the stroke changed no pixel
        document.undo_stack.push(command)  # no image named: found from the layer it edits
    return command


def test_undo_acts_on_the_image_on_screen_only():
    document = document_with(2)
    first, second = document.images
    document.set_current_image(first)
    stroke(document, first, 5)
    painted = first.label_layers[0].data.copy()
    document.set_current_image(second)
    assert not document.undo_stack.can_undo
    document.undo_stack.undo()
    assert np.array_equal(first.label_layers[0].data, painted)  # untouched, out of sight
    document.set_current_image(first)
    assert document.undo_stack.undo_text == "brush stroke on image0.png"
    document.undo_stack.undo()
    assert not first.label_layers[0].data.any()
    document.undo_stack.redo()
    assert np.array_equal(first.label_layers[0].data, painted)


def test_each_image_keeps_its_history_while_switching():
    document = document_with(3)
    for round_ in range(3):
        for index, entry in enumerate(document.images):
            document.set_current_image(entry)
            stroke(document, entry, 10 * index + round_ + 1, x=4 + 8 * round_)
    for index, entry in reversed(list(enumerate(document.images))):
        document.set_current_image(entry)
        assert set(np.unique(entry.label_layers[0].data)) == {0} | {10 * index + r + 1 for r in range(3)}
        for _ in range(3):
            document.undo_stack.undo()
        assert not entry.label_layers[0].data.any()
        for other in document.images:  # images undone before stay undone, later ones untouched
            if document.images.index(other) < index:
                assert other.label_layers[0].data.any()


def test_status_and_layer_changes_belong_to_their_image():
    document = document_with(2)
    first, second = document.images
    document.set_current_image(second)
    document.set_status(first, "reviewed")  # e.g. a batch action on an image not shown
    document.set_layer_property(first.label_layers[0], "name", "cells")
    assert not document.undo_stack.can_undo
    document.set_current_image(first)
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert first.status == "new" and first.label_layers[0].name == "labels"


def test_scripts_without_a_current_image_undo_what_they_did_last():
    document = document_with(2)
    first, second = document.images
    stroke(document, first, 1)
    stroke(document, second, 2)
    document.undo_stack.undo()
    assert not second.label_layers[0].data.any() and first.label_layers[0].data.any()


def test_one_budget_for_all_images_drops_the_oldest_step_of_any_image():
    shape = (200, 200)
    document = document_with(2, shape, budget=1)
    first, second = document.images
    budget_probe = stroke(document, first, 1, x=50, y=100, radius=20)  # every stroke the same size
    document.undo_stack.budget_bytes = budget_probe.nbytes * 3 + 10
    stroke(document, second, 2, x=50, y=100, radius=20)
    stroke(document, first, 3, x=150, y=100, radius=20)
    stroke(document, second, 4, x=150, y=100, radius=20)  # over budget: the very first stroke goes
    assert document.undo_stack.nbytes <= document.undo_stack.budget_bytes
    assert len(document.undo_stack.for_image(first)) == 1 and len(document.undo_stack.for_image(second)) == 2


def test_clean_state_spans_every_image():
    document = document_with(2)
    first, second = document.images
    stroke(document, first, 1)
    stroke(document, second, 2)
    assert document.dirty
    document.mark_clean()
    assert not document.dirty
    document.set_current_image(first)
    document.undo_stack.undo()
    assert document.dirty
    document.undo_stack.redo()
    assert not document.dirty


class PerImageAgainstReference(RuleBasedStateMachine):
    """Random strokes, switches, undos and redos match a model with full copies per image."""

    def __init__(self):
        super().__init__()
        self.document = document_with(3, (16, 16))
        self.current = 0
        self.document.set_current_image(self.document.images[0])
        self.past = {i: [np.zeros((16, 16), np.uint16)] for i in range(3)}
        self.future = {i: [] for i in range(3)}

    @rule(index=st.integers(0, 2))
    def switch(self, index):
        self.current = index
        self.document.set_current_image(self.document.images[index])

    @rule(x=st.floats(0, 15), y=st.floats(0, 15), value=st.integers(1, 9))
    def paint(self, x, y, value):
        entry = self.document.images[self.current]
        if stroke(self.document, entry, value, x, y, 2) is not None:
            self.past[self.current].append(entry.label_layers[0].data.copy())
            self.future[self.current].clear()

    @rule()
    def undo(self):
        if len(self.past[self.current]) > 1:
            self.future[self.current].append(self.past[self.current].pop())
        self.document.undo_stack.undo()

    @rule()
    def redo(self):
        if self.future[self.current]:
            self.past[self.current].append(self.future[self.current].pop())
        self.document.undo_stack.redo()

    @invariant()
    def every_image_matches(self):
        for index, entry in enumerate(self.document.images):
            assert np.array_equal(entry.label_layers[0].data, self.past[index][-1])


TestPerImageAgainstReference = PerImageAgainstReference.TestCase
TestPerImageAgainstReference.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


# -- a person's edits are marked, so batch actions leave them alone -----------------------------
def test_a_persons_stroke_makes_a_new_image_edited_in_the_same_undo_step():
    from seggui.core.tools import ToolController, ToolState

    document = document_with(2)
    first, _ = document.images
    document.set_current_image(first)
    controller = ToolController(document, ToolState(tool="brush", label_id=1, brush_radius=2))
    controller.set_layer(first.label_layers[0])
    controller.press(8, 8)
    controller.move(12, 8)
    controller.release(12, 8)
    assert first.status == "edited" and first.label_layers[0].data.any()
    document.undo_stack.undo()
    assert first.status == "new" and not first.label_layers[0].data.any()
    document.undo_stack.redo()
    assert first.status == "edited"
    document.set_status(first, "reviewed")
    controller.press(3, 3)
    controller.release(3, 3)
    assert first.status == "reviewed"  # review stays: only new and predicted become edited
