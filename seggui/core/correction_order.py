"""Which image to correct next: the one where the model expects to be wrong most often.

A proposal keeps each cell's confidence (`instance_info[id]["score"]`, seggui.ml.confidence:
how likely the cell is right). The expected number of wrong cells of an image is the sum of
(1 - score) over the cells nobody has verified yet; images with the most expected errors are
where a person's minutes change the most. Images without scores (not pre-segmented, or
drawn by hand) come after the scored ones, in project order; reviewed images are done.
"""

from __future__ import annotations

import math


def expected_errors(instance_info: dict) -> float | None:
    """Sum of (1 - score) over scored cells not verified; None when no cell has a score."""
    total, scored = 0.0, False
    for value in (instance_info or {}).values():
        if not isinstance(value, dict):
            continue
        score = value.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            continue
        scored = True
        if value.get("verified") is True:
            continue
        total += 1.0 - min(max(float(score), 0.0), 1.0)
    return round(total, 3) if scored else None


def entry_doubt(entry) -> float | None:
    """An image entry's expected errors: from its first label layer when in memory (edits
    since the last save included), else what the project last saved (`entry.doubt`)."""
    if entry.loaded:
        layers = entry.label_layers
        return expected_errors(layers[0].instance_info) if layers else None
    return entry.doubt


def correction_order(entries: list) -> list:
    """Unreviewed entries, most expected errors first, then the unscored in their order."""
    unreviewed = [e for e in entries if e.status != "reviewed"]
    doubts = {id(e): entry_doubt(e) for e in unreviewed}
    scored = sorted((e for e in unreviewed if doubts[id(e)] is not None), key=lambda e: -doubts[id(e)])
    return scored + [e for e in unreviewed if doubts[id(e)] is None]


def next_to_correct(entries: list, current=None):
    """The entry after `current` in correction order (the first when `current` is not in
    it, e.g. just marked reviewed); None when every image is reviewed."""
    order = correction_order(entries)
    if not order:
        return None
    if current is None or current not in order:
        return order[0]
    if len(order) == 1:
        return None
    return order[(order.index(current) + 1) % len(order)]
