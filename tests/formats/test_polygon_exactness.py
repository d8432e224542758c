"""Polygon exports read back exactly by the real tools' rasteriser (pycocotools, which COCO's
API and datumaro, CVAT's format library, both use), not only by seggui itself.

A polygon through pixel centres loses half a pixel all round (6-8% of a nucleus's pixels);
these tests compare every instance bit for bit after `COCO.annToMask`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.formats import export_annotations, import_annotations


def awkward_labels() -> np.ndarray:
    """Shapes that break naive tracing: holes, a cell in another's hole, diagonal pixels,
    one-pixel cells, thin lines, two-part cells, cells at every image edge."""
    labels = np.zeros((60, 70), np.uint16)
    labels[5:30, 5:30] = 1
    labels[10:25, 10:25] = 0  # a ring ...
    labels[14:20, 14:20] = 2  # ... with a cell in its hole
    labels[2, 40] = labels[3, 41] = labels[4, 42] = 3  # diagonal chain
    labels[10, 45] = 4  # one pixel
    labels[20:22, 40:68] = 5  # thin bar
    labels[30:36, 40:44] = 6
    labels[40:44, 50:56] = 6  # two parts
    labels[0:4, 0:3] = 7
    labels[56:60, 66:70] = 8  # corners of the image
    labels[45:60, 0:10] = 9
    labels[50:55, 3:7] = 0  # hole touching nothing
    return labels


def dsb_labels(shared_data, count: int = 6) -> list[np.ndarray]:
    folders = sorted((shared_data / "cells" / "dsb2018").iterdir())[:count]
    result = []
    for folder in folders:
        masks = sorted((folder / "masks").glob("*.png"))
        first = cv2.imread(str(masks[0]), cv2.IMREAD_GRAYSCALE)
        labels = np.zeros(first.shape, np.uint16)
        for index, path in enumerate(masks, 1):
            labels[cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0] = index
        result.append(labels)
    return result


def dataset_of(labels_list: list[np.ndarray]) -> Dataset:
    images = [ImageAnnotation(f"image{index}.png", labels.shape[0], labels.shape[1], labels,
                              {int(i): 1 for i in np.unique(labels) if i})
              for index, labels in enumerate(labels_list)]
    return Dataset([LabelClass(1, "nucleus", (200, 0, 0))], images)


def assert_coco_polygons_exact(dataset: Dataset, folder) -> None:
    export_annotations(dataset, folder, "coco", polygons=True)
    coco = COCO(str(folder / "annotations.json"))
    for image_id, image in enumerate(dataset.images, 1):
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert len(annotations) == len(image.instance_classes)
        for annotation in annotations:
            assert isinstance(annotation["segmentation"], list)
            mask = coco.annToMask(annotation).astype(bool)
            instance = int(np.bincount(image.labels[mask]).argmax())
            assert np.array_equal(mask, image.labels == instance), (image.image_name, instance)
            assert annotation["area"] == int(mask.sum())


def test_coco_polygons_are_exact_for_awkward_shapes(tmp_path):
    assert_coco_polygons_exact(dataset_of([awkward_labels()]), tmp_path / "out")


def test_coco_polygons_are_exact_on_real_nuclei(shared_data, tmp_path):
    assert_coco_polygons_exact(dataset_of(dsb_labels(shared_data)), tmp_path / "out")


def test_cvat_polygons_rasterised_by_pycocotools_are_exact(tmp_path):
    labels = awkward_labels()
    export_annotations(dataset_of([labels]), tmp_path / "cvat.xml", "cvat", polygons=True)
    height, width = labels.shape
    union: dict[int, np.ndarray] = {}
    for polygon in ElementTree.parse(tmp_path / "cvat.xml").getroot().iter("polygon"):
        points = [float(v) for pair in polygon.get("points").split(";") for v in pair.split(",")]
        mask = mask_utils.decode(mask_utils.frPyObjects([points], height, width))[:, :, 0].astype(bool)
        instance = int(np.bincount(labels[mask]).argmax())
        union[instance] = union.get(instance, np.zeros_like(mask)) | mask
    assert sorted(union) == sorted(int(i) for i in np.unique(labels) if i)
    for instance, mask in union.items():
        assert np.array_equal(mask, labels == instance), instance


@pytest.mark.parametrize("target", ["coco", "cvat"])
def test_polygon_round_trip_through_seggui_keeps_every_pixel(tmp_path, target):
    labels = awkward_labels()
    dest = tmp_path / ("out" if target == "coco" else "cvat.xml")
    export_annotations(dataset_of([labels]), dest, target, polygons=True)
    again = import_annotations(dest / "annotations.json" if target == "coco" else dest).images[0].labels
    assert np.array_equal(again > 0, labels > 0)
    for instance in (int(i) for i in np.unique(again) if i):
        assert len(np.unique(labels[again == instance])) == 1  # no imported cell spans two cells


def test_cvat_polygon_round_trip_keeps_two_part_cells_one_cell(tmp_path):
    labels = awkward_labels()
    export_annotations(dataset_of([labels]), tmp_path / "cvat.xml", "cvat", polygons=True)
    again = import_annotations(tmp_path / "cvat.xml").images[0].labels
    assert len(np.unique(again[labels == 6])) == 1
