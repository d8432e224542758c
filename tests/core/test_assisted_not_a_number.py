"""The assisted tools on a float image with pixels that are not numbers (a float TIFF's NaN
where nothing was imaged) and a model map of NaN: they answer, never raise."""

from __future__ import annotations

import numpy as np
import pytest

from seggui.core.document import Document
from seggui.core.layers import LabelLayer
from seggui.core.model_maps import ModelMaps
from seggui.core.tools import ToolController, ToolState

YY, XX = np.mgrid[:64, :80]
LEFT = (YY - 30) ** 2 + (XX - 40) ** 2 < 64
RIGHT = (YY - 30) ** 2 + (XX - 52) ** 2 < 49


def image_with_holes(channels: int = 0) -> np.ndarray:
    image = np.random.default_rng(0).random((64, 80)).astype(np.float32)
    image[LEFT | RIGHT] += 2.0
    image[2:12, 60:75] = np.nan  # not imaged
    image[50:55, 5:10] = np.inf
    return np.stack([image] * channels, axis=-1) if channels else image


def controller(image: np.ndarray, labels: np.ndarray, probability: np.ndarray | None):
    maps = ModelMaps()
    maps.put("image", probability)
    layer = LabelLayer(labels.copy())
    state = ToolState(only_background=True)
    tools = ToolController(Document(), state)
    tools.set_layer(layer)
    tools.image_source = lambda: image
    tools.probability_source = lambda: maps.get("image")
    return tools, state, layer


@pytest.mark.parametrize("channels", [0, 3])
@pytest.mark.parametrize("probability", [None, np.full((64, 80), np.nan, np.float32)])
def test_click_box_and_split_answer_on_an_image_with_nan_pixels(channels, probability):
    image = image_with_holes(channels)
    tools, state, layer = controller(image, np.zeros((64, 80), np.uint16), probability)
    state.tool = "add_cell"
    tools.press(40.5, 30.5)
    tools.release(40.5, 30.5)
    added = layer.data[30, 40]
    assert added and (layer.data == added).sum() >= 0.5 * LEFT.sum()  # the bright disk, found
    state.tool = "box_cell"
    tools.press(55, 0)
    tools.move(80, 20)
    tools.release(80, 20)  # a box over the NaN patch: whatever it finds, no exception

    tools, state, layer = controller(image, np.where(LEFT | RIGHT, 5, 0).astype(np.uint16), probability)
    state.tool = "split"
    for x in (40.5, 52.5):
        tools.press(x, 30.5)
        tools.release(x, 30.5)
    tools.finish_shape()
    assert layer.data[30, 40] != layer.data[30, 52]
