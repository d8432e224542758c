"""Accepting a proposal "where nothing is labelled" (and a batch on an image that already
holds labels) keeps every labelled pixel and adds only the proposed cells that are not
already there: a proposed cell lying mostly over a person's cell would otherwise come in as
a sliver of a cell around it."""

from types import SimpleNamespace

import numpy as np

from seggui.core.layers import LabelLayer
from seggui.core.proposals import FILL_EMPTY, batch_proposal, merged_info, merged_labels


def disc(shape, centre, radius):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def scene():
    shape = (60, 90)
    existing = np.zeros(shape, np.uint16)
    existing[disc(shape, (20, 20), 6)] = 5  # a person's cell, a little smaller than the model's
    existing[disc(shape, (20, 55), 8)] = 6  # a person's cell covering a third of a proposed one
    proposal = np.zeros(shape, np.uint16)
    proposal[disc(shape, (20, 20), 8)] = 1  # the same cell as 5: only a rim is free
    proposal[disc(shape, (20, 68), 8)] = 2  # a neighbour of 6, overlapping it a little
    proposal[disc(shape, (45, 45), 8)] = 3  # a cell nobody outlined
    return existing, proposal


def test_fill_keeps_labels_and_drops_proposed_cells_mostly_over_them():
    existing, proposal = scene()
    result = merged_labels(existing, proposal, FILL_EMPTY)
    assert np.array_equal(result[existing > 0], existing[existing > 0])
    new = set(np.unique(result[existing == 0]).tolist()) - {0}
    assert new == {6 + 2, 6 + 3}  # no sliver of cell 1 around cell 5
    assert not (result == 6 + 1).any()
    assert (result == 6 + 2).sum() == ((proposal == 2) & (existing == 0)).sum()
    info = merged_info(existing, {5: {"verified": True}}, proposal, FILL_EMPTY, {1: 0.9, 2: 0.8, 3: 0.7})
    assert info == {5: {"verified": True}, 8: {"score": 0.8}, 9: {"score": 0.7}}


def test_a_batch_on_labelled_image_adds_only_the_cells_not_there():
    existing, proposal = scene()
    # batch_proposal reads only the entry's label layers; the imported cells sit in a layer of their own.
    entry = SimpleNamespace(label_layers=[LabelLayer(np.zeros_like(existing)), LabelLayer(existing.copy())])
    mode, labels = batch_proposal(entry, proposal)
    assert mode == FILL_EMPTY
    assert set(np.unique(labels).tolist()) == {0, 2, 3}
    assert not (labels[existing > 0]).any()


def test_ids_far_apart_are_handled():
    existing, proposal = scene()
    proposal = np.where(proposal == 3, 4_000_000_000, proposal).astype(np.uint32)
    result = merged_labels(existing, proposal, FILL_EMPTY)
    assert (result == 6 + 4_000_000_000).sum() == (proposal == 4_000_000_000).sum()
