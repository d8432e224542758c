from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seggui.formats import import_annotations
from seggui.formats.coco import read_coco
from seggui.formats.labelme import read_labelme

from .helpers import iou, named_instances


def test_reproduces_labelme_voc_exports(shared_data):
    base = shared_data / "labelme" / "instance_segmentation"
    class_names = (base / "labels.txt").read_text().splitlines()
    dataset = read_labelme(base / "data_annotated")
    assert dataset.report.images == 3 and not dataset.report.skipped
    names = {c.id: c.name for c in dataset.classes}
    for image in dataset.images:
        stem = image.image_name.rsplit(".", 1)[0]
        objects = np.array(Image.open(base / "data_dataset_voc" / "SegmentationObject" / f"{stem}.png"))
        classes = np.array(Image.open(base / "data_dataset_voc" / "SegmentationClass" / f"{stem}.png"))
        mine = np.zeros_like(classes)
        for instance, class_id in image.instance_classes.items():
            name = names[class_id]
            mine[image.labels == instance] = 255 if name == "__ignore__" else class_names.index(name) - 1
            if name == "__ignore__":
                continue  # labelme writes ignored regions as background in SegmentationObject
            region = image.labels == instance
            best = max(iou(region, objects == j) for j in np.unique(objects) if j)
            assert best >= 0.98, (stem, instance, name, best)
        assert (mine == classes).mean() >= 0.99


def test_coco_export_of_labelme_gives_same_instances(shared_data):
    base = shared_data / "labelme" / "instance_segmentation"
    from_json = read_labelme(base / "data_annotated")
    from_coco = read_coco(base / "data_dataset_coco" / "annotations.json")
    for image in from_json.images:
        other = next(o for o in from_coco.images if o.image_name.endswith(image.image_name))
        ours = [(n, m) for n, m in named_instances(from_json, image) if n != "__ignore__"]
        theirs = named_instances(from_coco, other)
        assert [n for n, _ in ours] == [n for n, _ in theirs]
        for (_, a), (_, b) in zip(ours, theirs):
            assert iou(a, b) >= 0.9


def test_primitives_57_and_35(shared_data):
    for folder, masks in (("primitives", 1), ("v3.5.0-primitives", 0)):
        dataset = read_labelme(shared_data / "labelme" / folder / "primitives.json")
        image = dataset.images[0]
        kinds = sorted(v.kind for v in image.vectors)
        assert kinds == ["line", "linestrip", "point"]
        shape_types = sorted(info["shape_type"] for info in image.instance_info.values())
        assert shape_types.count("mask") == masks and "circle" in shape_types and "rectangle" in shape_types
        assert image.labels.shape == (450, 560) and image.image_path is not None
        assert dataset.report.vectors == 3 and not dataset.report.skipped


def test_embedded_image_and_self_reference(shared_data):
    dataset = read_labelme(shared_data / "labelme" / "tutorial" / "apc2016_obj3.json")
    image = dataset.images[0]
    assert image.image_path is None and image.image_data is not None
    assert image.image_data.shape[:2] == image.labels.shape
    assert image.image_name.endswith(".png")


def test_group_id_and_flags(shared_data):
    dataset = read_labelme(shared_data / "labelme" / "instance_segmentation" / "data_annotated" / "2011_000006.json")
    assert dataset.report.instances_per_class["sofa"] == 1  # four grouped polygons, one instance
    flags = read_labelme(shared_data / "labelme" / "classification" / "data_annotated")
    assert flags.images[0].flags == {"__ignore__": False, "cat": True, "dog": False}


def test_old_file_without_version_or_shape_type(fixtures_dir):
    dataset = import_annotations(fixtures_dir / "formats" / "labelme_old")
    image = dataset.images[0]
    assert image.labels.shape == (10, 12) and image.image_data is not None
    assert len(image.instance_classes) == 2
    assert image.labels[3, 3] == 1 and image.labels[7, 9] == 2
    assert dataset.classes[0].color == (10, 20, 30)  # per-shape fill_color of LabelMe 3.x


def test_57_mask_group_extras_windows_path(fixtures_dir):
    dataset = import_annotations(fixtures_dir / "formats" / "labelme_57" / "tiny.json")
    image = dataset.images[0]
    assert image.image_path is not None and image.image_path.name == "tiny.png"
    expected = np.zeros((4, 5), bool)
    expected[1:3, 1:4] = True
    expected[0, 0] = True
    names = named_instances(dataset, image)
    nuclei = [m for n, m in names if n == "nucleus"]
    assert len(nuclei) == 2  # mask + (polygon, rectangle grouped by group_id 3)
    assert np.array_equal(nuclei[0][3:7, 2:7], expected) and nuclei[0].sum() == expected.sum()
    info = image.instance_info[1]
    assert info["score"] == 0.93 and info["attributes"] == {"stain": "dapi"} and info["description"] == "blob"
    assert image.flags["reviewed"] is True and image.flags["labelme.text"] == "image note"
    assert sorted(v.kind for v in image.vectors) == ["line", "point"]


def test_labelme_export_keeps_extras(fixtures_dir, tmp_path):
    from seggui.formats import export_annotations

    dataset = import_annotations(fixtures_dir / "formats" / "labelme_57" / "tiny.json")
    export_annotations(dataset, tmp_path / "out", "labelme")
    # The exported imagePath climbs out of the exported folder: only opened inside --images.
    assert import_annotations(tmp_path / "out").images[0].image_path is None
    again = import_annotations(tmp_path / "out", images_dir=fixtures_dir / "formats" / "labelme_57")
    assert np.array_equal(again.images[0].labels, dataset.images[0].labels)
    assert again.images[0].flags == dataset.images[0].flags
    assert again.images[0].instance_info[1]["score"] == 0.93
    assert again.images[0].image_path == dataset.images[0].image_path


@pytest.mark.parametrize("polygons", [False, True])
def test_export_polygons_close_to_masks(shared_data, tmp_path, polygons):
    from seggui.formats import export_annotations

    dataset = read_labelme(shared_data / "labelme" / "instance_segmentation" / "data_annotated")
    export_annotations(dataset, tmp_path / "out", "labelme", polygons=polygons)
    again = read_labelme(tmp_path / "out")
    for a, b in zip(dataset.images, again.images):
        if not polygons:
            assert np.array_equal(a.labels, b.labels)
        for (na, ma), (nb, mb) in zip(named_instances(dataset, a), named_instances(again, b)):
            assert na == nb and iou(ma, mb) >= 0.9
