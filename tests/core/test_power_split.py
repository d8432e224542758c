"""The split tool parts touching nuclei of different sizes where their outlines cross."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from seggui.core.assisted import power_parts, split_instance_command
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
