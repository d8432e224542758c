"""Pascal VOC segmentation folders: class names and colours from labelmap.txt (CVAT, datumaro)
or class_names.txt (labelme), RGB-painted masks decoded, instances paired with their class."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seggui.core.errors import FormatError
from seggui.formats import detect_format, import_annotations
from seggui.formats.labelme import read_labelme
from seggui.formats.voc import read_label_map, voc_palette

from .helpers import iou

LABELMAP = """# label:color_rgb:parts:actions
background:0,0,0::
cell:250,50,83::
nucleus:20,200,30:membrane:
"""


def test_voc_palette_is_the_standard_one():
    palette = voc_palette()
    assert palette[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert palette[255].tolist() == [224, 224, 192]


def test_label_map_lines(tmp_path):
    path = tmp_path / "labelmap.txt"
    path.write_text(LABELMAP + "a:b:1,2,3::\nbare\n")
    assert read_label_map(path) == [("background", (0, 0, 0)), ("cell", (250, 50, 83)),
                                    ("nucleus", (20, 200, 30)), ("a:b", (1, 2, 3)), ("bare", None)]
    path.write_text("cell:300,0,0::\n")
    with pytest.raises(FormatError, match="0..255"):
        read_label_map(path)


def write_datumaro_voc(root) -> tuple[np.ndarray, np.ndarray]:
    """What datumaro's VOC export (CVAT's 'Segmentation mask 1.1') writes: RGB PNGs painted
    with the label map's colours (classes) and the VOC palette (objects)."""
    objects = np.zeros((20, 24), np.int64)
    objects[2:8, 2:8] = 1
    objects[10:18, 3:12] = 2
    objects[4:9, 14:22] = 3
    classes = np.choose(objects, [0, 1, 2, 1])
    objects[9, :] = 255  # a void border line, as in VOC
    classes[9, :] = 255
    colors = {0: (0, 0, 0), 1: (250, 50, 83), 2: (20, 200, 30), 255: (224, 224, 192)}
    for folder in ("SegmentationClass", "SegmentationObject", "JPEGImages", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True)
    (root / "labelmap.txt").write_text(LABELMAP)
    painted = np.zeros(classes.shape + (3,), np.uint8)
    for value, color in colors.items():
        painted[classes == value] = color
    Image.fromarray(painted).save(root / "SegmentationClass" / "img1.png")
    Image.fromarray(voc_palette()[objects].astype(np.uint8)).save(root / "SegmentationObject" / "img1.png")
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(root / "JPEGImages" / "img1.jpg")
    objects[objects == 255] = 0
    return objects, classes


@pytest.mark.parametrize("pick", ["", "SegmentationObject"])
def test_datumaro_voc_export(tmp_path, pick):
    objects, _ = write_datumaro_voc(tmp_path)
    source = tmp_path / pick if pick else tmp_path
    assert detect_format(source) == "masks"
    dataset = import_annotations(source)
    assert [(c.id, c.name, c.color) for c in dataset.classes] == [(1, "cell", (250, 50, 83)),
                                                                   (2, "nucleus", (20, 200, 30))]
    image = dataset.images[0]
    assert np.array_equal(image.labels, objects)
    assert image.instance_classes == {1: 1, 2: 2, 3: 1}
    assert image.image_path is not None and image.image_path.name == "img1.jpg"


def test_datumaro_voc_class_images_alone(tmp_path):
    _, classes = write_datumaro_voc(tmp_path)
    dataset = import_annotations(tmp_path / "SegmentationClass")
    names = {c.id: c.name for c in dataset.classes}
    image = dataset.images[0]
    assert sorted(names[c] for c in image.instance_classes.values()) == ["cell", "cell", "nucleus"]
    assert np.array_equal(image.labels > 0, (classes > 0) & (classes != 255))


def test_colour_not_in_label_map_is_reported(tmp_path):
    write_datumaro_voc(tmp_path)
    (tmp_path / "labelmap.txt").write_text("background:0,0,0::\ncell:250,50,83::\n")
    with pytest.raises(FormatError, match="not in the label map"):
        import_annotations(tmp_path)


def test_labelme_voc_export_gives_labelme_classes(shared_data):
    base = shared_data / "labelme" / "instance_segmentation"
    voc = import_annotations(base / "data_dataset_voc")
    source = read_labelme(base / "data_annotated")
    voc_names = {c.id: c.name for c in voc.classes}
    source_names = {c.id: c.name for c in source.classes}
    assert "object" not in voc_names.values()
    for image in voc.images:
        original = next(o for o in source.images if o.image_name.rsplit(".", 1)[0] == image.image_name.rsplit(".", 1)[0])
        for instance, class_id in image.instance_classes.items():
            region = image.labels == instance
            best = max(original.instance_classes, key=lambda i: iou(region, original.labels == i))
            assert voc_names[class_id] == source_names[original.instance_classes[best]]
            assert iou(region, original.labels == best) >= 0.9
