"""Accepting a model proposal into a label layer as one undoable step.

The step changes the labels (sparse, so undo keeps only changed pixels), resets the
instance -> class table when labels are replaced (the old ids mean other objects now), and
marks the image `predicted` with the model name, so one Ctrl+Z brings all three back.
The model's confidence in each accepted cell (seggui.ml.confidence) goes into the layer's
`instance_info[id]["score"]` under the id the cell has in the layer, in the same step; the
Review queue dock (seggui.ui.review_queue) reads it. (The image score is not kept: a label
layer has no free-form saved place for it.)
"""

from __future__ import annotations

import numpy as np

from seggui.core.document import Document, ImageEntry, now
from seggui.core.layers import LabelLayer
from seggui.core.paint import change_command
from seggui.core.undo import Command

REPLACE = "replace"
FILL_EMPTY = "fill_empty"
MODES = {REPLACE: "Replace the labels", FILL_EMPTY: "Fill only where nothing is labelled"}


def merged_labels(existing: np.ndarray, proposal: np.ndarray, mode: str) -> np.ndarray:
    """The label image after accepting `proposal` in `mode`."""
    if proposal.shape != existing.shape:
        raise ValueError(f"proposal shape {proposal.shape} differs from layer shape {existing.shape}")
    if mode == REPLACE:
        return proposal
    if mode != FILL_EMPTY:
        raise ValueError(f"unknown accept mode {mode!r}")
    # New objects get ids above the existing ones so they never merge with a labelled cell.
    offset = int(existing.max()) if existing.size else 0
    proposal = outside_labelled_cells(proposal, existing > 0)
    fill = proposal > 0
    result = existing.astype(np.uint32 if offset + int(proposal.max(initial=0)) > 65535 else existing.dtype)
    result[fill] = proposal[fill].astype(np.int64) + offset
    return result


FREE_SHARE = 0.5  # a proposed cell mostly over labelled pixels is a cell already there


def outside_labelled_cells(proposal: np.ndarray, occupied: np.ndarray) -> np.ndarray:
    """The proposal where nothing is labelled, without the cells that lie mostly over labelled
    pixels: those are cells a person (or an import) already outlined, and their leftover rim
    would come in as a sliver of a cell around the person's one."""
    result = np.where(occupied, 0, proposal).astype(proposal.dtype)
    over = proposal[occupied & (proposal > 0)]
    if over.size == 0:  # also a proposal already cut to the free pixels: nothing to count again
        return result
    # Only the proposed cells that reach labelled pixels are counted (a few, whatever their ids).
    touched, covered = np.unique(over, return_counts=True)
    _, total = np.unique(proposal[np.isin(proposal, touched)], return_counts=True)
    mostly_covered = touched[total - covered < FREE_SHARE * total]
    if mostly_covered.size:
        result[np.isin(result, mostly_covered)] = 0
    return result


def merged_info(existing: np.ndarray, info: dict[int, dict], proposal: np.ndarray, mode: str,
                scores: dict[int, float] | None) -> dict[int, dict]:
    """The layer's instance info after accepting `proposal` in `mode` (before the labels change).

    Replace drops the old entries (their ids now mean other cells); Fill keeps them. Each
    proposed cell that ends up in the layer gets `{"score": s}` under its id there (the
    proposal's id, plus the offset Fill adds)."""
    result = {} if mode == REPLACE else {k: dict(v) for k, v in info.items()}
    if not scores:
        return result
    if mode == REPLACE:
        present, offset = np.unique(proposal), 0
    else:
        offset = int(existing.max()) if existing.size else 0
        present = np.unique(outside_labelled_cells(proposal, existing > 0))
    for cell in present.tolist():
        score = scores.get(int(cell))
        if cell and score is not None:
            result.setdefault(int(cell) + offset, {})["score"] = round(float(score), 4)
    return result


class AcceptProposalCommand(Command):
    """Labels + class table + instance info (scores) + status in one undo step."""

    def __init__(self, document: Document, entry: ImageEntry, layer: LabelLayer, proposal: np.ndarray,
                 mode: str, model: str, scores: dict[int, float] | None = None):
        self.description = f"accept {model} proposal"
        self.old_info = {k: dict(v) for k, v in layer.instance_info.items()}
        self.new_info = merged_info(layer.data, layer.instance_info, proposal, mode, scores)
        new = merged_labels(layer.data, proposal, mode)
        height, width = layer.shape
        self.labels = change_command(layer, (0, 0, height, width), new, self.description)
        self.document, self.entry, self.layer = document, entry, layer
        self.old_classes = dict(layer.instance_classes)
        self.new_classes = {} if mode == REPLACE else dict(layer.instance_classes)
        # Same effect as Document.set_status(entry, "predicted", model), inside this step.
        self.old_status = (entry.status, entry.status_model, entry.modified)
        # Filled around cells a person made, imported or checked, the labels are not a model's
        # alone: the image stays (or becomes) "edited" (a reviewed one stays reviewed), so that a
        # later Replace asks and a batch leaves it alone.
        kept_by_person = mode == FILL_EMPTY and cells_a_replace_discards(entry, layer) > 0
        status = ("reviewed" if entry.status == "reviewed" else "edited") if kept_by_person else "predicted"
        self.new_status = (status, model, now())

    @property
    def nbytes(self) -> int:
        return self.labels.nbytes + 64 * (len(self.old_classes) + len(self.old_info) + len(self.new_info) + 4)

    def _apply(self, classes: dict, info: dict, status: tuple) -> None:
        if self.layer.instance_classes != classes or self.layer.instance_info != info:
            self.layer.instance_classes = dict(classes)
            self.layer.instance_info = {k: dict(v) for k, v in info.items()}
            self.layer.instances_changed.emit()
        self.entry.status, self.entry.status_model, self.entry.modified = status
        self.document.status_changed.emit(self.entry)

    def redo(self) -> None:
        self.labels.redo()
        self._apply(self.new_classes, self.new_info, self.new_status)

    def undo(self) -> None:
        self.labels.undo()
        self._apply(self.old_classes, self.old_info, self.old_status)


def target_layer(entry: ImageEntry, preferred: object = None) -> LabelLayer | None:
    """The layer a proposal goes into: the one being edited if it is this image's, else the first."""
    layers = entry.label_layers
    if isinstance(preferred, LabelLayer) and preferred in layers:
        return preferred
    return layers[0] if layers else None


def cells_a_replace_discards(entry: ImageEntry, layer: LabelLayer | None) -> int:
    """How many cells of `layer` that a person made, imported or checked a Replace would throw
    away: the verified cells, and unless the labels are still a model's accepted proposal
    (status "predicted": any edit makes the image "edited"), every cell without a model's score."""
    if layer is None or not layer.data.any():
        return 0
    present = layer.instance_ids().tolist()
    info = layer.instance_info
    if entry.status != "predicted":  # a model's cells carry their score: the others are a person's
        return sum(1 for cell in present if info.get(cell, {}).get("verified") or "score" not in info.get(cell, {}))
    return sum(1 for cell in present if info.get(cell, {}).get("verified"))


def accept_proposal(document: Document, entry: ImageEntry, proposal: np.ndarray, mode: str, model: str,
                    layer: LabelLayer | None = None,
                    scores: dict[int, float] | None = None) -> AcceptProposalCommand:
    """Apply the proposal as one undoable step (adding a label layer first if there is none).

    `scores` (cell id of `proposal` -> confidence) are kept in the layer's instance info."""
    layer = layer or target_layer(entry)
    if layer is None:
        layer = LabelLayer.empty(proposal.shape, name="labels")
        document.add_layer(entry, layer)
    if layer.locked:
        raise PermissionError(f"layer {layer.name} is locked; unlock it to accept the proposal")
    command = AcceptProposalCommand(document, entry, layer, proposal, mode, model, scores)
    document.undo_stack.push(command, execute=True)
    return command


def batch_proposal(entry: ImageEntry, proposal: np.ndarray) -> tuple[str, np.ndarray]:
    """(mode, proposal) a batch pre-segmentation may apply to `entry`: it never replaces
    labels that are already there, in any layer (imported cells often sit in a layer of
    their own), so where anything is labelled the proposal only fills unlabelled pixels."""
    occupied = np.zeros(proposal.shape, bool)
    for other in entry.label_layers:
        occupied |= other.data > 0
    if not occupied.any():
        return REPLACE, proposal
    return FILL_EMPTY, outside_labelled_cells(proposal, occupied)


def batch_may_change(entry: ImageEntry) -> bool:
    """Only images still `new` are pre-segmented by a batch: a person's edits, an accepted
    proposal and a review are never overwritten (seggui.core.document.STATUSES)."""
    return entry.status == "new" and not entry.problem
