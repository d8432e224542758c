"""Box-to-cell: cells that differ from their surroundings by texture, not level; a faint cell
under a model map that spills past it, in a tight and a loose box."""

from __future__ import annotations

import numpy as np

from seggui.core.box_cell import box_cell_mask, inscribed_ellipse


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def placed(rect, mask, shape) -> np.ndarray:
    full = np.zeros(shape, bool)
    full[rect[0]:rect[2], rect[1]:rect[3]] = mask
    return full


def textured_cell(shape=(120, 140), seed=0):
    """A phase-contrast-like cell: the mean grey of the background, but a bright rim and
    mottled inside, over a flat, faintly noisy background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    inside = ((yy - 60) / 22.0) ** 2 + ((xx - 70) / 30.0) ** 2 <= 1
    image = 120 + rng.normal(0, 2, shape)
    image[inside] = 120 + rng.normal(0, 35, int(inside.sum()))
    return np.clip(image, 0, 255).astype(np.uint8), inside


def test_a_cell_seen_only_by_its_texture_is_found_in_its_box():
    image, cell = textured_cell()
    labels = np.zeros(cell.shape, np.uint16)
    found = box_cell_mask(image, (36, 38, 84, 102), labels)
    assert found is not None
    assert iou(placed(*found, cell.shape), cell) >= 0.7


def test_a_clear_bright_cell_keeps_its_sharp_edge_in_a_loose_box():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:100, :100]
    cell = (yy - 50) ** 2 + (xx - 50) ** 2 <= 10 ** 2
    image = np.clip(20 + rng.normal(0, 3, (100, 100)) + 150 * cell, 0, 255).astype(np.uint8)
    found = box_cell_mask(image, (30, 30, 71, 71), np.zeros((100, 100), np.uint16))  # twice the cell's size
    assert found is not None and iou(placed(*found, cell.shape), cell) >= 0.9  # the threshold's edge, not a blur


def test_a_model_map_of_scattered_blobs_gives_way_to_the_image():
    image, cell = textured_cell(seed=2)
    probability = np.zeros(cell.shape, np.float32)
    probability[40:44, 45:49] = 0.9  # a speck the model saw: no cell
    found = box_cell_mask(image, (36, 38, 84, 102), np.zeros(cell.shape, np.uint16), probability)
    assert found is not None and iou(placed(*found, cell.shape), cell) >= 0.7


def test_labelled_pixels_stay_out_and_the_ellipse_touches_the_box():
    image, cell = textured_cell(seed=3)
    labels = np.zeros(cell.shape, np.uint16)
    labels[:, :70] = 5  # the left half of the cell is someone's already
    found = box_cell_mask(image, (36, 38, 84, 102), labels)
    assert found is not None and not (placed(*found, cell.shape) & (labels > 0)).any()
    ellipse = inscribed_ellipse(5, 9)
    assert ellipse[2, 0] and ellipse[0, 4] and not ellipse[0, 0]


def faint_cell_under_a_wide_map(radius=8):
    """A clear cell whose model map is a low, wide hill spilling far past it (a cell the
    model saw faintly): its cut of the map is too big, the image's edge is right."""
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:100, :100]
    distance2 = (yy - 50) ** 2 + (xx - 50) ** 2
    cell = distance2 <= radius ** 2
    image = np.clip(20 + rng.normal(0, 3, (100, 100)) + 120 * cell, 0, 255).astype(np.uint8)
    probability = (0.3 * np.exp(-distance2 / (2 * 14.0 ** 2))).astype(np.float32)
    return image, cell, probability


def test_the_cut_that_fits_the_box_wins_over_a_spilling_map():
    image, cell, probability = faint_cell_under_a_wide_map()
    labels = np.zeros(cell.shape, np.uint16)
    found = box_cell_mask(image, (41, 41, 60, 60), labels, probability)  # the cell's bounds and 1 px
    assert found is not None and iou(placed(*found, cell.shape), cell) >= 0.9  # the map's cut: 0.55


def test_a_loose_box_still_finds_the_cell_not_the_box():
    image, cell, probability = faint_cell_under_a_wide_map()
    labels = np.zeros(cell.shape, np.uint16)
    found = box_cell_mask(image, (36, 36, 65, 65), labels, probability)  # 30 % larger each side
    assert found is not None and iou(placed(*found, cell.shape), cell) >= 0.85  # the map's cut: 0.23
