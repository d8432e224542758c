"""The split tool parts touching nuclei of different sizes where their outlines cross."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from seggui.core.split_cell import power_parts, split_instance_command
from seggui.core.layers import LabelLayer


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def innermost(mask: np.ndarray) -> tuple[int, int]:
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), mask.shape)
    return int(row), int(col)


def a_small_nucleus_budding_off_a_large_one():
    yy, xx = np.mgrid[:70, :90]
    large = (yy - 35) ** 2 + (xx - 30) ** 2 <= 14 ** 2
    small = ((yy - 35) ** 2 + (xx - 45) ** 2 <= 5 ** 2) & ~large
    return large, small


def test_a_click_in_each_gives_the_small_nucleus_its_own_outline():
    large, small = a_small_nucleus_budding_off_a_large_one()
    layer = LabelLayer(np.where(large | small, 7, 0).astype(np.uint16))
    clicks = [innermost(large), innermost(small)]
    command = split_instance_command(layer, 7, [(col + 0.5, row + 0.5) for row, col in clicks])
    command.redo()
    first, second = (int(layer.data[row, col]) for row, col in clicks)
    assert first == 7 and second not in (0, 7)
    # A watershed of the distance transform from the clicks gave the small one 0.60.
    assert iou(layer.data == first, large) > 0.9 and iou(layer.data == second, small) > 0.85


def test_parts_cover_the_mask_and_each_part_is_one_piece():
    # A U-shaped cell clicked at the top of its left arm and the foot of its right arm: by
    # distance alone the right arm's top would belong to the left click, cut off from it;
    # it joins the part it touches.
    shape = np.zeros((50, 60), bool)
    shape[5:45, 5:15] = shape[5:45, 45:55] = shape[35:45, 5:55] = True
    parts = power_parts(shape, [(8, 10), (40, 50)])
    assert ((parts > 0) == shape).all()
    for index in (1, 2):
        assert ndimage.label(parts == index)[1] == 1
    assert parts[8, 50] == 2
    assert (power_parts(shape, [(0, 0)]) == shape.astype(np.int32)).all()  # a click outside: one part


def test_two_clicks_in_one_round_cell_change_nothing_outside_it():
    # The second click lies inside the first one's larger disk: in the power diagram it owns
    # nothing; the person asked for two parts, so the watershed gives them. The cell keeps every
    # pixel, and neither the background nor the neighbour in its box is touched.
    yy, xx = np.mgrid[:60, :60]
    cell = (yy - 30) ** 2 + (xx - 30) ** 2 <= 12 ** 2
    labels = np.where(cell, 4, 0).astype(np.uint16)
    labels[18:22, 18:22] = 9  # a neighbour inside the cell's bounding box, outside the cell
    labels[cell] = 4
    parts = power_parts(cell[18:43, 18:43], [(12, 12), (12, 15)])
    assert ((parts > 0) == cell[18:43, 18:43]).all()
    assert parts[12, 15] == 1  # the second click's part is empty
    layer = LabelLayer(labels.copy())
    command = split_instance_command(layer, 4, [(30.5, 30.5), (33.5, 30.5)])
    command.redo()
    assert (layer.data[~cell] == labels[~cell]).all()
    assert (layer.data[cell] > 0).all() and len(np.unique(layer.data[cell])) == 2


def test_many_clicks_on_a_large_region_stay_inside_it():
    rng = np.random.default_rng(0)
    region = np.ones((300, 400), bool)
    region[:, :5] = False
    seeds = [(int(r), int(c)) for r, c in zip(rng.integers(0, 300, 40), rng.integers(5, 400, 40))]
    parts = power_parts(region, seeds)
    assert ((parts > 0) == region).all()
    assert len(np.unique(parts[region])) >= 2
