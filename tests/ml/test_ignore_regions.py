"""`__ignore__` regions (labelme's convention): not cells, no loss, no metric, grey on screen."""

from __future__ import annotations

import json

import numpy as np
import torch

from seggui.core.annotation import IGNORE_COLOR, LabelClass, ignore_instance_ids
from seggui.core.document import Document
from seggui.core.layers import LabelLayer
from seggui.core.project import Project
from seggui.core.training_set import reviewed_samples
from seggui.formats import import_annotations
from seggui.ml.metrics import without_ignored
from seggui.ml.targets import IGNORE
from seggui.ml.training.data import Pair, load_sample
from seggui.ml.training.trainer import segmentation_loss


def test_labelme_ignore_shapes_become_a_grey_ignore_class(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((40, 50), np.uint8))
    shapes = [{"label": "nucleus", "points": [[2, 2], [12, 2], [12, 12], [2, 12]], "shape_type": "polygon"},
              {"label": "__ignore__", "points": [[20, 20], [40, 20], [40, 35], [20, 35]], "shape_type": "polygon"}]
    (tmp_path / "a.json").write_text(json.dumps({"version": "5.4.1", "shapes": shapes, "imagePath": "a.png",
                                                 "imageHeight": 40, "imageWidth": 50, "imageData": None}))
    dataset = import_annotations(tmp_path / "a.json")
    ignore = next(c for c in dataset.classes if c.name == "__ignore__")
    assert ignore.ignore and ignore.color == IGNORE_COLOR
    image = dataset.images[0]
    ids = ignore_instance_ids(dataset.classes, image.instance_classes)
    assert len(ids) == 1 and image.labels[25, 30] in ids


def project_with_ignore(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.full((48, 64), 90, np.uint8))
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, [tmp_path / "images"])
    entry = document.images[0]
    labels = np.zeros((48, 64), np.uint16)
    labels[4:14, 4:14] = 1
    labels[20:40, 30:60] = 2
    layer = LabelLayer(labels, "labels", classes=[LabelClass(1, "nucleus", (255, 0, 0)),
                                                  LabelClass(2, "__ignore__", IGNORE_COLOR)],
                       instance_classes={1: 1, 2: 2})
    entry.set_layers([entry.layers[0], layer])
    document.set_status(entry, "reviewed")
    project.save(document)
    project.close()
    return tmp_path / "project"


def test_training_masks_the_loss_in_ignore_regions(tmp_path):
    folder = project_with_ignore(tmp_path)
    [sample_row] = reviewed_samples(folder)
    assert sample_row.ignore_ids == (2,)
    sample = load_sample(Pair("a", sample_row.image_path, [sample_row.mask_path], sample_row.ignore_ids), 1)
    assert (sample.classes[20:40, 30:60] == IGNORE).all() and not sample.labels[20:40, 30:60].any()
    assert sample.classes[8, 8] != IGNORE and sample.labels[8, 8] == 1
    classes = torch.from_numpy(sample.classes.astype(np.int64))[None]
    distance = torch.from_numpy(sample.distance)[None]
    weights = torch.tensor([1.0, 1.0, 3.0])
    logits = torch.zeros((1, 4, 48, 64))
    wild = logits.clone()
    wild[:, :, 20:40, 30:60] = torch.randn((1, 4, 20, 30)) * 50  # anything at all inside the ignore region
    same = segmentation_loss(logits, classes, distance, weights, True)
    assert torch.isclose(same, segmentation_loss(wild, classes, distance, weights, True))
    outside = logits.clone()
    outside[:, :, 4:14, 4:14] = 50.0
    assert not torch.isclose(same, segmentation_loss(outside, classes, distance, weights, True))


def test_cells_predicted_in_ignore_regions_are_not_errors():
    ignore = np.zeros((20, 20), bool)
    ignore[10:, :] = True
    predicted = np.zeros((20, 20), np.int32)
    predicted[2:6, 2:6] = 1  # a real cell
    predicted[12:18, 2:8] = 2  # inside the ignore region
    predicted[8:12, 12:16] = 3  # half in, half out: kept, its pixels inside are left out
    kept = without_ignored(predicted, ignore)
    assert set(np.unique(kept)) == {0, 1, 3} and not kept[ignore].any()


def test_ignore_regions_are_grey_on_the_canvas_whatever_the_colouring():
    from seggui.ui.canvas.render import LabelPalette, pack_rgb

    labels = np.zeros((8, 8), np.uint16)
    labels[:4] = 1
    labels[4:] = 2
    layer = LabelLayer(labels, "labels", classes=[LabelClass(1, "nucleus", (255, 0, 0)),
                                                  LabelClass(2, "__ignore__", IGNORE_COLOR)],
                       instance_classes={1: 1, 2: 2})
    grey = pack_rgb(np.asarray([IGNORE_COLOR], np.uint8))[0]
    for by_class in (False, True):
        layer.color_by_class = by_class
        colours = LabelPalette(layer).colorize(labels)
        assert (colours[4:] == grey).all() and (colours[:4] != grey).all()
