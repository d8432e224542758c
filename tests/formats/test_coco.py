from __future__ import annotations

import json

import numpy as np
from pycocotools.coco import COCO

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.formats import export_annotations, import_annotations
from seggui.formats.coco import counts_from_string, read_coco


def test_real_files(shared_data):
    for layout in ("coco_instances", "coco_roboflow"):
        dataset = read_coco(shared_data / "coco" / layout)
        assert [c.id for c in dataset.classes] == [1, 2, 4]  # category-id gaps kept
        assert sorted(i.image_name for i in dataset.images) == ["train/a.jpg", "val/b.jpg"]
        assert all(i.image_path is not None for i in dataset.images)
        train = next(i for i in dataset.images if i.image_name == "train/a.jpg")
        assert [v.kind for v in train.vectors] == ["box"]  # empty segmentation: the box is kept
        assert np.allclose(train.vectors[0].points, [[2, 2], [5, 3]])
        val = next(i for i in dataset.images if i.image_name == "val/b.jpg")
        crowd = [i for i, info in val.instance_info.items() if info.get("iscrowd")]
        assert len(crowd) == 1 and len(val.instance_classes) == 2


def _random_dataset(seed=0, size=(64, 80)):
    rng = np.random.default_rng(seed)
    labels = np.zeros(size, np.uint16)
    for instance in range(1, 9):
        y, x = rng.integers(0, size[0] - 5), rng.integers(0, size[1] - 5)
        labels[y:y + rng.integers(1, 20), x:x + rng.integers(1, 20)] = instance
    from skimage.segmentation import relabel_sequential

    labels = relabel_sequential(labels)[0].astype(np.uint16)
    classes = {i: 1 + i % 2 for i in range(1, int(labels.max()) + 1)}
    image = ImageAnnotation("r.png", size[0], size[1], labels, classes)
    return Dataset([LabelClass(1, "a", (1, 2, 3)), LabelClass(2, "b", (4, 5, 6))], [image])


def test_rle_export_loads_in_pycocotools_and_is_exact(tmp_path):
    dataset = _random_dataset()
    export_annotations(dataset, tmp_path / "out.json", "coco")
    coco = COCO(str(tmp_path / "out.json"))
    labels = dataset.images[0].labels
    annotations = coco.loadAnns(coco.getAnnIds())
    assert len(annotations) == len(np.unique(labels)) - 1
    for annotation in annotations:
        instance = labels[int(annotation["bbox"][1]), :]  # any pixel of the instance identifies it
        mask = coco.annToMask(annotation).astype(bool)
        instance = int(np.bincount(labels[mask]).argmax())
        assert np.array_equal(mask, labels == instance)
        assert annotation["area"] == mask.sum() and annotation["iscrowd"] == 0
        ys, xs = np.nonzero(mask)
        assert annotation["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert counts_from_string(annotation["segmentation"]["counts"])  # our decoder reads it


def test_polygon_export_loads(tmp_path):
    dataset = _random_dataset(1)
    export_annotations(dataset, tmp_path / "out", "coco", polygons=True)
    coco = COCO(str(tmp_path / "out" / "annotations.json"))
    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert isinstance(annotation["segmentation"], list)
        assert coco.annToMask(annotation).sum() > 0


def test_polygon_export_keeps_holes(tmp_path):
    labels = np.zeros((40, 40), np.uint16)
    labels[5:35, 5:35] = 1
    labels[15:25, 15:25] = 0
    dataset = Dataset([LabelClass(1, "a", (1, 2, 3))], [ImageAnnotation("h.png", 40, 40, labels, {1: 1})])
    export_annotations(dataset, tmp_path / "p.json", "coco", polygons=True)
    again = import_annotations(tmp_path / "p.json")
    assert again.images[0].labels[20, 20] == 0 and again.images[0].labels[10, 10] == 1


def test_image_ids_stable(tmp_path):
    dataset = _random_dataset()
    export_annotations(dataset, tmp_path / "a.json", "coco")
    export_annotations(dataset, tmp_path / "b.json", "coco")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert json.loads((tmp_path / "a.json").read_text())["images"][0]["id"] == 1
