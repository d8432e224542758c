"""Split and add-cell cut a model's region that spread over background back to the cells the
image shows; a person's own cell is split, never reshaped."""

from __future__ import annotations

import numpy as np
import pytest

from seggui.core.assisted import add_cell_mask, cell_like
from seggui.core.split_cell import split_instance_command
from seggui.core.layers import LabelLayer


def two_nuclei_in_a_bloated_blob(seed: int = 0):
    """Two dark disks (r=8) on a bright noisy background, and one label covering both plus a
    wide band of background around them: a stained-tissue proposal that merged and spread."""
    rng = np.random.default_rng(seed)
    image = rng.normal(200, 4, (80, 100))
    yy, xx = np.mgrid[:80, :100]
    cells = [((yy - 40) ** 2 + (xx - 35) ** 2 <= 64), ((yy - 40) ** 2 + (xx - 60) ** 2 <= 64)]
    for disc in cells:
        image[disc] = rng.normal(90, 4, int(disc.sum()))
    labels = np.zeros((80, 100), np.uint16)
    labels[24:57, 20:76] = 5  # 33 x 56 box over both: about 3.5 times their area
    return image.clip(0, 255).astype(np.uint8), labels, cells


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def stained(image):
    """The grey picture as H&E-like colour: bright pinkish background, purple nuclei."""
    level = image.astype(np.float32) / 255.0
    rgb = np.stack([60 + 180 * level, 20 + 190 * level, 140 + 90 * level], axis=2)
    return rgb.clip(0, 255).astype(np.uint8)


def split(labels, image, info):
    layer = LabelLayer(labels.copy(), instance_info=info)
    command = split_instance_command(layer, 5, [(35.5, 40.5), (60.5, 40.5)], image=image)
    command.redo()
    return layer


def test_a_proposed_cell_split_in_two_on_stained_tissue_is_also_trimmed_to_the_nuclei():
    image, labels, cells = two_nuclei_in_a_bloated_blob()
    layer = split(labels, stained(image), {5: {"score": 0.4}})
    first, second = layer.data[40, 35], layer.data[40, 60]
    assert first == 5 and second not in (0, 5)
    assert iou(layer.data == first, cells[0]) > 0.8 and iou(layer.data == second, cells[1]) > 0.8
    assert not layer.data[25, 22]  # the background the proposal took is background again


@pytest.mark.parametrize("info", [{}, {5: {"score": 0.4, "verified": True}}])
def test_a_persons_cell_is_split_but_never_trimmed(info):
    image, labels, _ = two_nuclei_in_a_bloated_blob()
    layer = split(labels, image, info)
    assert ((layer.data > 0) == (labels > 0)).all()  # every pixel kept, only the ids changed
    assert len(np.unique(layer.data[labels > 0])) == 2


def test_a_proposed_cell_on_a_grey_image_is_split_but_not_trimmed():
    # On fluorescence a merged outline is the nuclei's own edge: a level would cut dim rims.
    image, labels, _ = two_nuclei_in_a_bloated_blob()
    for picture in (image, np.repeat(image[..., None], 3, axis=2)):  # grey, and grey stored as RGB
        layer = split(labels, picture, {5: {"score": 0.4}})
        assert ((layer.data > 0) == (labels > 0)).all()
        assert len(np.unique(layer.data[labels > 0])) == 2


def test_no_trimming_where_the_image_shows_no_contrast():
    _, labels, _ = two_nuclei_in_a_bloated_blob()
    flat = np.random.default_rng(1).normal(120, 4, labels.shape).clip(0, 255).astype(np.uint8)
    layer = split(labels, stained(flat), {5: {"score": 0.4}})
    assert ((layer.data > 0) == (labels > 0)).all()
    background = np.zeros(labels.shape, bool)
    background[:10] = True
    assert cell_like(flat.astype(np.float32), background, [(40, 35)]) is None


def test_add_cell_cuts_a_spread_model_map_to_the_clicked_nucleus():
    image, labels, cells = two_nuclei_in_a_bloated_blob()
    probability = np.where(labels > 0, 0.9, 0.02).astype(np.float32)  # the map spread as the blob
    rect, mask = add_cell_mask(image, 35.5, 40.5, np.zeros_like(labels), probability)
    full = np.zeros(labels.shape, bool)
    full[rect[0]:rect[2], rect[1]:rect[3]] = mask
    assert iou(full, cells[0]) > 0.8
