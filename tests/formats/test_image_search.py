"""Images found as the tools find them, inside the dataset root the person chose and never outside.

COCO's official layout is `annotations/instances_val2017.json` with the images in `val2017/`
beside `annotations/` (or in `images/val2017/`); LabelMe datasets often keep JSONs in
`annotations/` with `imagePath: "../images/x.png"`. The root is the folder chosen, or the one
above an `annotations/` folder; a path that climbs above it is refused, symlinks included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.formats import export_annotations, import_annotations
from seggui.formats.convert import image_locations


def write_png(path, height=20, width=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), 90, np.uint8)).save(path)
    return path


def coco_document(file_name="000000000139.png"):
    return {"images": [{"id": 1, "file_name": file_name, "height": 20, "width": 30}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 20,
                             "bbox": [2, 2, 5, 4], "segmentation": [[2, 2, 7, 2, 7, 6, 2, 6]]}],
            "categories": [{"id": 1, "name": "cell"}]}


@pytest.fixture
def coco_official(tmp_path):
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(coco_document()))
    image = write_png(root / "val2017" / "000000000139.png")
    return root, image


def test_coco_official_layout_given_the_json(coco_official):
    root, image = coco_official
    dataset = import_annotations(root / "annotations" / "instances_val2017.json")
    assert dataset.images[0].image_path == image.resolve()
    assert not dataset.report.warnings
    assert image_locations(dataset) == [f"images found in {image.parent.resolve()}: 1"]


def test_coco_official_layout_given_the_root(coco_official):
    root, image = coco_official
    dataset = import_annotations(root)
    assert dataset.images[0].image_path == image.resolve()
    assert image_locations(dataset, verbose=True) == [f"image 000000000139.png: {image.resolve()}"]


def test_coco_official_layout_given_the_annotations_folder(coco_official):
    root, image = coco_official
    assert import_annotations(root / "annotations").images[0].image_path == image.resolve()


def test_coco_images_split_folder(tmp_path):
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(coco_document()))
    image = write_png(root / "images" / "val2017" / "000000000139.png")
    dataset = import_annotations(root / "annotations" / "instances_val2017.json")
    assert dataset.images[0].image_path == image.resolve()


def test_coco_image_above_the_root_is_not_opened(tmp_path):
    (tmp_path / "outside").mkdir()
    write_png(tmp_path / "outside" / "secret.png")
    root = tmp_path / "data"
    root.mkdir()
    (root / "instances.json").write_text(json.dumps(coco_document("../outside/secret.png")))
    dataset = import_annotations(root / "instances.json")
    assert dataset.images[0].image_path is None
    assert any("outside the source folder" in w for w in dataset.report.warnings)
    assert image_locations(dataset)[-1].startswith("images not found: 1")


def labelme_document(image_path):
    return {"version": "5.7.0", "flags": {}, "imagePath": image_path, "imageData": None,
            "imageHeight": 20, "imageWidth": 30,
            "shapes": [{"label": "cell", "points": [[2, 2], [8, 2], [8, 7]], "shape_type": "polygon",
                        "group_id": None, "flags": {}, "description": ""}]}


def test_labelme_image_in_a_sibling_images_folder(tmp_path):
    root = tmp_path / "dataset"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "x.json").write_text(json.dumps(labelme_document("../images/x.png")))
    image = write_png(root / "images" / "x.png")
    for source in (root / "annotations", root / "annotations" / "x.json"):
        dataset = import_annotations(source)
        assert dataset.images[0].image_path == image.resolve(), source
        assert not dataset.report.warnings


def test_labelme_escape_above_the_root_stays_refused(tmp_path):
    write_png(tmp_path / "images" / "x.png")  # exists, but above the root
    root = tmp_path / "dataset"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "x.json").write_text(json.dumps(labelme_document("../../images/x.png")))
    dataset = import_annotations(root / "annotations")
    assert dataset.images[0].image_path is None
    assert any("outside the source folder" in w for w in dataset.report.warnings)


def test_labelme_other_folder_names_keep_the_chosen_folder_as_root(tmp_path):
    write_png(tmp_path / "images" / "x.png")
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "x.json").write_text(json.dumps(labelme_document("../images/x.png")))
    dataset = import_annotations(tmp_path / "json")
    assert dataset.images[0].image_path is None  # above the folder chosen: pass --images to allow it
    dataset = import_annotations(tmp_path / "json", images_dir=tmp_path / "images")
    assert dataset.images[0].image_path == (tmp_path / "images" / "x.png").resolve()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this system")
def test_symlinked_images_folder_pointing_outside_is_refused(tmp_path):
    write_png(tmp_path / "elsewhere" / "x.png")
    root = tmp_path / "dataset"
    (root / "annotations").mkdir(parents=True)
    (root / "images").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "annotations" / "x.json").write_text(json.dumps(labelme_document("../images/x.png")))
    dataset = import_annotations(root / "annotations")
    assert dataset.images[0].image_path is None


def dataset_without_images():
    labels = np.zeros((20, 30), np.uint16)
    labels[2:8, 3:9] = 1
    image = ImageAnnotation("lost.png", 20, 30, labels, {1: 1})
    return Dataset([LabelClass(1, "cell", (200, 0, 0))], [image])


def test_labelme_export_warns_per_image_without_pixels(tmp_path):
    warnings = export_annotations(dataset_without_images(), tmp_path / "out", "labelme")
    assert any("lost.json" in w and "LabelMe will refuse" in w for w in warnings)


def test_labelme_export_with_found_image_does_not_warn(tmp_path):
    root = tmp_path / "dataset"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "x.json").write_text(json.dumps(labelme_document("../images/x.png")))
    write_png(root / "images" / "x.png")
    dataset = import_annotations(root / "annotations")
    warnings = export_annotations(dataset, tmp_path / "out", "labelme")
    assert not any("refuse" in w for w in warnings)
    written = json.loads((tmp_path / "out" / "x.json").read_text())
    assert (tmp_path / "out" / written["imagePath"]).resolve() == (root / "images" / "x.png").resolve()


def test_supervisely_export_warns_per_image_left_out_of_img(tmp_path):
    warnings = export_annotations(dataset_without_images(), tmp_path / "sly", "supervisely")
    assert any("ds0/img/lost.png NOT WRITTEN" in w for w in warnings)
    assert not any((tmp_path / "sly" / "ds0" / "img").iterdir())


def test_convert_prints_where_images_were_found_and_export_warnings(coco_official, tmp_path):
    root, image = coco_official
    command = [sys.executable, "-m", "seggui", "convert", str(root / "annotations" / "instances_val2017.json"),
               "--to", "supervisely", "--out", str(tmp_path / "sly")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"images found in {image.parent.resolve()}: 1" in result.stderr
    assert (tmp_path / "sly" / "ds0" / "img" / "000000000139.png").is_file()
    image.unlink()
    result = subprocess.run(command[:-1] + [str(tmp_path / "sly2")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "images not found: 1" in result.stderr
    assert "warning: supervisely: ds0/img/000000000139.png NOT WRITTEN" in result.stderr
    result = subprocess.run(command[:-1] + [str(tmp_path / "sly3"), "--verbose"], capture_output=True, text=True,
                            timeout=120)
    assert "image 000000000139.png: NOT FOUND" in result.stderr
