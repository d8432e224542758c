"""A cell the model saw only faintly comes back whole from a click or a box.

The model's map of such a cell is a low, wide hill: its outline lies far down the slope, so
the tools cut the map at RELAXED_PEAK of its local peak (half the peak found only the
hill's top, a third of the cell)."""

import numpy as np

from seggui.core.assisted import RELAXED_PEAK, add_cell_mask
from seggui.core.box_cell import box_cell_mask

SIZE, CENTRE, SIGMA, PEAK = 96, 48, 6.0, 0.6


def faint_cell():
    rows, cols = np.mgrid[:SIZE, :SIZE]
    squared = (rows - CENTRE) ** 2 + (cols - CENTRE) ** 2
    probability = (PEAK * np.exp(-squared / (2 * SIGMA**2))).astype(np.float32)
    # The cell is where the map holds RELAXED_PEAK of its peak (radius ~11.7 px).
    cell = probability >= RELAXED_PEAK * PEAK * 1.05
    image = np.full((SIZE, SIZE), 100, np.uint8)  # flat: the image tells nothing, the map must
    return image, probability, cell


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def _full(found):
    (y0, x0, y1, x1), mask = found
    full = np.zeros((SIZE, SIZE), bool)
    full[y0:y1, x0:x1] = mask
    return full


def test_a_click_takes_the_whole_faint_cell():
    image, probability, cell = faint_cell()
    labels = np.zeros((SIZE, SIZE), np.uint16)
    found = add_cell_mask(image, CENTRE + 0.5, CENTRE + 0.5, labels, probability)
    assert found is not None
    assert _iou(_full(found), cell) > 0.8


def test_a_box_takes_the_whole_faint_cell():
    image, probability, cell = faint_cell()
    labels = np.zeros((SIZE, SIZE), np.uint16)
    rows, cols = np.nonzero(cell)
    found = box_cell_mask(image, (rows.min() - 1, cols.min() - 1, rows.max() + 2, cols.max() + 2), labels, probability)
    assert found is not None
    assert _iou(_full(found), cell) > 0.8


def test_only_unlabelled_pixels_are_taken():
    image, probability, cell = faint_cell()
    labels = np.zeros((SIZE, SIZE), np.uint16)
    labels[:, CENTRE + 4 :] = 7  # a neighbour proposed over the right of the hill
    found = add_cell_mask(image, CENTRE + 0.5, CENTRE + 0.5, labels, probability)
    assert found is not None
    assert not (_full(found) & (labels != 0)).any()
