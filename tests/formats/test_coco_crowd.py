"""iscrowd survives: imported crowd regions are exported as iscrowd=1 with RLE, as COCO requires."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools.coco import COCO

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.formats import export_annotations, import_annotations


def crowd_dataset() -> Dataset:
    labels = np.zeros((30, 40), np.uint16)
    labels[2:20, 2:30] = 1  # the crowd, drawn first as COCO importers do
    labels[5:9, 5:9] = 2
    labels[22:28, 30:38] = 3
    image = ImageAnnotation("a.png", 30, 40, labels, {1: 1, 2: 1, 3: 1}, {1: {"iscrowd": 1}, 2: {"iscrowd": 0}})
    return Dataset([LabelClass(1, "nucleus", (200, 0, 0))], [image])


@pytest.mark.parametrize("polygons", [False, True])
def test_crowd_written_as_rle_with_iscrowd_1(tmp_path, polygons):
    dataset = crowd_dataset()
    export_annotations(dataset, tmp_path / "c.json", "coco", polygons=polygons)
    coco = COCO(str(tmp_path / "c.json"))
    crowd = coco.loadAnns(coco.getAnnIds(iscrowd=True))
    assert [a["iscrowd"] for a in coco.loadAnns(coco.getAnnIds())] == [1, 0, 0]
    assert len(crowd) == 1 and isinstance(crowd[0]["segmentation"], dict)
    assert np.array_equal(coco.annToMask(crowd[0]).astype(bool), dataset.images[0].labels == 1)
    again = import_annotations(tmp_path / "c.json").images[0]
    assert np.array_equal(again.labels, dataset.images[0].labels)
    assert [bool(again.instance_info[i].get("iscrowd")) for i in (1, 2, 3)] == [True, False, False]


def test_real_crowd_round_trip(shared_data, tmp_path):
    dataset = import_annotations(shared_data / "coco" / "coco_instances")
    export_annotations(dataset, tmp_path / "out", "coco")
    again = import_annotations(tmp_path / "out" / "annotations.json")
    crowds = [image.image_name for image in again.images for info in image.instance_info.values()
              if info.get("iscrowd")]
    assert crowds == ["val/b.jpg"]
    for before, after in zip(dataset.images, again.images):
        assert np.array_equal(before.labels, after.labels)


def test_crowd_survives_panoptic(tmp_path):
    export_annotations(crowd_dataset(), tmp_path / "p", "coco-panoptic")
    again = import_annotations(tmp_path / "p").images[0]
    assert [bool(again.instance_info[i].get("iscrowd")) for i in (1, 2, 3)] == [True, False, False]
