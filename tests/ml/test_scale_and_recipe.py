"""Cell size, input scale, colour widening, several DSB folders, the fine-tuning recipe and a
card a newcomer can reproduce without another machine's paths."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from seggui.core.errors import ModelError, TrainingError
from seggui.ml.cards import validate_card
from seggui.ml.registry import load_model
from seggui.ml.scale import input_scale_for, median_cell_diameter, resize_image, resize_labels
from seggui.ml.training import TrainConfig, train
from seggui.ml.training.data import find_pairs
from seggui.ml.training.runs import portable_command, portable_config, portable_path
from seggui.ml.unet import UNet, widen_input

from .helpers import disks_image, save_tiny_unet, write_pairs


def test_median_diameter_is_per_image_first():
    small = np.zeros((60, 60), np.int32)
    for index, x in enumerate(range(5, 55, 10), start=1):
        small[5:9, x:x + 4] = index  # five 4x4 cells
    big = np.zeros((60, 60), np.int32)
    big[10:50, 10:50] = 1
    diameter = median_cell_diameter([small, big, big])
    assert math.isclose(diameter, 2 * math.sqrt(1600 / math.pi))  # two images of big cells outvote one
    assert median_cell_diameter([np.zeros((4, 4), np.int32)]) is None


@pytest.mark.parametrize("measured, expected", [(65.0, round(20 / 65, 4)), (22.0, 1.0), (5.0, 4.0), (None, 1.0),
                                                (400.0, 0.2)])
def test_input_scale_brings_cells_to_the_model_size(measured, expected):
    assert input_scale_for(20.0, measured) == expected


def test_resizing_keeps_dtype_and_never_blends_ids():
    image = (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) * 30)
    assert resize_image(image, 0.5).dtype == np.uint16 and resize_image(image, 0.5).shape == (20, 25)
    rgb = np.zeros((40, 50, 3), np.uint8)
    assert resize_image(rgb, 2.0).shape == (80, 100, 3)
    labels = np.zeros((40, 50), np.uint32)
    labels[10:20, 10:30] = 70000
    labels[25:35, 5:15] = 3
    back = resize_labels(resize_labels(labels, 0.3), 1.0, labels.shape)
    assert set(np.unique(back)) <= {0, 3, 70000} and back.dtype == np.uint32


def test_widening_a_grey_model_to_colour_computes_the_same():
    torch.manual_seed(0)
    grey = UNet(1, 3, 2, 4, True).eval()
    colour = UNet(3, 3, 2, 4, True).eval()
    colour.load_state_dict(widen_input(grey.state_dict(), 3))
    rgb = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(grey(rgb.mean(dim=1, keepdim=True)), colour(rgb), atol=1e-5)
    with pytest.raises(ValueError, match="one-channel"):
        widen_input(colour.state_dict(), 4)


def test_fine_tuning_measures_cells_scales_images_and_predicts_back_at_full_size(tmp_path):
    import cv2

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for index in range(3):  # cells of radius 24: about 48 px across, the base model's 20 px after scaling
        image, labels = disks_image((160, 160), ((50, 50), (50, 110), (110, 80)), radius=24, seed=index,
                                    dtype=np.uint8)
        cv2.imwrite(str(images / f"c{index}.png"), image)
        cv2.imwrite(str(masks / f"c{index}.png"), labels)
    base = save_tiny_unet(tmp_path / "base")
    card = train(TrainConfig(out=tmp_path / "tuned", images=images, masks=masks, base=str(base), epochs=1,
                             batch_size=2, crops_per_epoch=2, threads=1))
    scale = card["scale"]
    assert scale["cell_diameter"] == 20.0 and 45 < scale["measured_cell_diameter"] < 50
    assert scale["input_scale"] == pytest.approx(20.0 / scale["measured_cell_diameter"], abs=1e-3)
    assert card["training"]["config"]["crop_size"] == 160 and card["training"]["config"]["learning_rate"] == 2e-3
    predictor = load_model(tmp_path / "tuned", "cpu")
    assert predictor.input_scale == scale["input_scale"]
    image, _ = disks_image((160, 160), ((50, 50),), radius=24, dtype=np.uint8)
    assert predictor.predict(image).labels.shape == (160, 160)
    # The person's choice wins over the measurement and over the recipe.
    card = train(TrainConfig(out=tmp_path / "fixed", images=images, masks=masks, base=str(base), epochs=1,
                             batch_size=2, crops_per_epoch=2, threads=1, input_scale=1.0, crop_size=64,
                             learning_rate=1e-4))
    assert card["scale"]["input_scale"] == 1.0 and card["training"]["config"]["crop_size"] == 64
    assert card["training"]["config"]["learning_rate"] == 1e-4
    with pytest.raises(TrainingError, match="--input-scale"):
        train(TrainConfig(out=tmp_path / "bad", images=images, masks=masks, base=str(base), epochs=1, input_scale=50))


def test_colour_fine_tune_and_lineage(tmp_path):
    images, masks = write_pairs(tmp_path / "data", 2)
    base = save_tiny_unet(tmp_path / "base")
    card = train(TrainConfig(out=tmp_path / "colour", images=images, masks=masks, base=str(base), epochs=1,
                             channels=3, batch_size=2, crops_per_epoch=2, crop_size=32, threads=1))
    assert card["architecture"]["in_channels"] == 3
    again = train(TrainConfig(out=tmp_path / "again", images=images, masks=masks, base=str(tmp_path / "colour"),
                              epochs=1, batch_size=2, crops_per_epoch=2, crop_size=32, threads=1))
    lineage = again["training"]["lineage"]
    assert [run["model"] for run in lineage] == ["base", "colour", "again"]  # the base card had no runs
    assert lineage[0]["minutes"] is None and all(run["minutes"] is not None for run in lineage[1:])


def test_several_dsb_folders_train_together_and_a_stem_in_two_is_refused(tmp_path):
    import cv2

    def dsb(folder, stems):
        for stem in stems:
            image, labels = disks_image(seed=len(stem), dtype=np.uint8)
            (folder / stem / "images").mkdir(parents=True)
            (folder / stem / "masks").mkdir()
            cv2.imwrite(str(folder / stem / "images" / f"{stem}.png"), image)
            for cell in range(1, int(labels.max()) + 1):
                cv2.imwrite(str(folder / stem / "masks" / f"{cell}.png"), (labels == cell).astype(np.uint8) * 255)

    dsb(tmp_path / "a", ["one", "two"])
    dsb(tmp_path / "b", ["three"])
    assert [p.stem for p in find_pairs([tmp_path / "a", tmp_path / "b"], None)] == ["one", "two", "three"]
    dsb(tmp_path / "c", ["two"])
    with pytest.raises(TrainingError, match="both"):
        find_pairs([tmp_path / "a", tmp_path / "c"], None)


def test_cards_keep_no_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert portable_path(str(tmp_path / "data" / "x")) == "data/x"
    assert portable_path("/elsewhere/run/model") == "model"
    assert portable_command("seggui train --images /srv/lab/dsb --out out") == "seggui train --images dsb --out out"
    # The CLI's command line is also kept in the config's "extra" (it was left absolute there).
    assert portable_config({"extra": {"command": "seggui train --out /srv/run/cont"}}) == {
        "extra": {"command": "seggui train --out cont"}}
    images, masks = write_pairs(tmp_path / "data", 2)
    card = train(TrainConfig(out=tmp_path / "model", images=images, masks=masks, epochs=1, width=4, depth=2,
                             crop_size=32, batch_size=2, crops_per_epoch=2, threads=1))
    assert str(tmp_path) not in json.dumps(card)


@pytest.mark.parametrize("scale", [{"input_scale": 0.01}, {"input_scale": float("nan")}, {"cell_diameter": -3},
                                   {"input_scale": "1"}, []])
def test_a_crafted_scale_is_refused(scale):
    card = {"format": 1, "name": "x", "kind": "unet", "task": "instances", "scale": scale,
            "architecture": {"in_channels": 1, "classes": 3, "depth": 2, "width": 4}}
    with pytest.raises(ModelError, match="scale"):
        validate_card(card)


def test_masks_without_cells_fall_back_to_the_image_size_and_say_so(tmp_path):
    import cv2

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    image, _ = disks_image(dtype=np.uint8)
    cv2.imwrite(str(images / "a.png"), image)
    cv2.imwrite(str(masks / "a.png"), np.zeros(image.shape, np.uint8))
    events = []
    card = train(TrainConfig(out=tmp_path / "out", images=images, masks=masks, base=str(save_tiny_unet(tmp_path / "b")),
                             epochs=1, batch_size=2, crops_per_epoch=2, crop_size=32, threads=1),
                 on_event=events.append)
    assert card["scale"]["input_scale"] == 1.0 and card["scale"]["measured_cell_diameter"] is None
    assert "no cells in the masks" in events[0]["scale_note"]


@pytest.mark.parametrize("asked, note", [(1.0, "images used at their own size, as asked"),
                                         (0.5, "images resized by 0.5 as asked")])
def test_an_input_scale_asked_for_is_said_so(tmp_path, asked, note):
    images, masks = write_pairs(tmp_path / "data", 2)
    events = []
    train(TrainConfig(out=tmp_path / "out", images=images, masks=masks, base=str(save_tiny_unet(tmp_path / "b")),
                      epochs=1, batch_size=2, crops_per_epoch=2, crop_size=32, threads=1, input_scale=asked),
          on_event=events.append)
    assert events[0]["scale_note"] == note


def test_the_bundled_card_names_no_absolute_path_and_says_its_cell_size():
    from seggui.ml.registry import resolve_model

    card = resolve_model("nuclei").card

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    assert not [s for s in strings(card) if s.startswith("/") or " /work" in s or " /home" in s or " /tmp" in s]
    assert card["scale"]["input_scale"] == 1.0 and 15 < card["scale"]["cell_diameter"] < 25
    assert card["heldout_accuracy"]["plain"]["all"]["images"] == 98


def test_a_time_budget_is_spent_whole_an_epoch_count_may_stop_early(tmp_path):
    from seggui.ml.cli_train import config_from_args
    from seggui.cli import build_parser

    assert TrainConfig(out=tmp_path, minutes=8).with_recipe().patience == 0
    assert TrainConfig(out=tmp_path, epochs=50).with_recipe().patience == 20
    assert TrainConfig(out=tmp_path, minutes=8, patience=5).with_recipe().patience == 5
    args = build_parser().parse_args(["train", "--images", "i", "--masks", "m", "--out", "o", "--minutes", "8"])
    assert config_from_args(args).with_recipe().patience == 0
