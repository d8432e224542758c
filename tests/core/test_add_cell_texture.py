"""A click on a phase-contrast-like cell (textured, neither brighter nor darker than the medium)
adds the cell; a click on a bright nucleus still follows its intensity."""

from __future__ import annotations

import numpy as np

from seggui.core.assisted import add_cell_mask


def textured_cell_image(seed: int = 0):
    """A noisy medium (mean 120, camera noise 6) holding one 60 x 40 px elliptical cell whose inside is
    granular (strong local texture) with the medium's mean level."""
    rng = np.random.default_rng(seed)
    image = rng.normal(120, 6, (200, 220))
    yy, xx = np.mgrid[:200, :220]
    cell = ((yy - 100) / 20.0) ** 2 + ((xx - 110) / 30.0) ** 2 <= 1
    image[cell] = rng.normal(120, 30, int(cell.sum()))
    return image.clip(0, 255).astype(np.uint8), cell


def full(result, shape):
    mask = np.zeros(shape, bool)
    (y0, x0, y1, x1), inside = result
    mask[y0:y1, x0:x1] = inside
    return mask


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_a_click_on_a_flat_textured_cell_adds_the_cell():
    image, cell = textured_cell_image()
    labels = np.zeros(cell.shape, np.uint16)
    # A nuclei model's map on phase contrast: one small fragment inside the cell.
    probability = np.zeros(cell.shape, np.float32)
    probability[95:105, 105:115] = 0.9
    result = add_cell_mask(image, 110.5, 100.5, labels, probability)
    assert result is not None
    assert iou(full(result, cell.shape), cell) > 0.7


def test_a_click_on_a_bright_nucleus_follows_its_intensity_not_its_texture():
    rng = np.random.default_rng(1)
    image = rng.normal(30, 3, (120, 120))
    yy, xx = np.mgrid[:120, :120]
    nucleus = (yy - 60) ** 2 + (xx - 60) ** 2 <= 100
    image[nucleus] = rng.normal(200, 3, int(nucleus.sum()))
    result = add_cell_mask(image.clip(0, 255).astype(np.uint8), 60.5, 60.5, np.zeros((120, 120), np.uint16))
    assert iou(full(result, nucleus.shape), nucleus) > 0.8  # the textured region is ~6 px wider


def test_labelled_pixels_are_never_taken_by_a_textured_cell():
    image, cell = textured_cell_image()
    labels = np.zeros(cell.shape, np.uint16)
    labels[:, 125:] = 7  # a neighbour's label over the cell's right part
    mask = full(add_cell_mask(image, 100.5, 100.5, labels), cell.shape)
    assert mask.any() and not (mask & (labels > 0)).any()
