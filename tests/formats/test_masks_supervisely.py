from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image

from seggui.formats import export_annotations, import_annotations
from seggui.formats.masks import read_masks
from seggui.formats.supervisely import read_supervisely

from .helpers import named_instances


def test_dsb_folder(shared_data, tmp_path):
    source = shared_data / "cells" / "dsb2018"
    folders = sorted(p for p in source.iterdir() if p.is_dir())[:2]
    for folder in folders:
        shutil.copytree(folder, tmp_path / "dsb" / folder.name)
    dataset = import_annotations(tmp_path / "dsb")
    assert len(dataset.images) == 2
    for image, folder in zip(dataset.images, folders):
        masks = sorted((folder / "masks").iterdir())
        assert len(image.instance_classes) == len(masks)
        first = np.array(Image.open(masks[0])) > 0
        assert np.array_equal(image.labels == 1, first)
        assert image.image_path is not None


def test_png_export_layout_and_round_trip(shared_data, tmp_path):
    dataset = read_masks(shared_data / "cells" / "dsb2018" / sorted(
        p.name for p in (shared_data / "cells" / "dsb2018").iterdir())[0])
    export_annotations(dataset, tmp_path / "png", "png")
    stem = dataset.images[0].image_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    instances = np.array(Image.open(tmp_path / "png" / "instances" / f"{stem}.png"))
    assert instances.dtype == np.uint16 and np.array_equal(instances, dataset.images[0].labels)
    overlay = np.array(Image.open(tmp_path / "png" / "overlay" / f"{stem}.png"))
    assert overlay.shape == instances.shape + (3,)
    assert json.loads((tmp_path / "png" / "classes.json").read_text())["classes"][0]["name"] == "nucleus"
    again = import_annotations(tmp_path / "png")
    assert np.array_equal(again.images[0].labels, dataset.images[0].labels)
    assert again.images[0].instance_classes == dataset.images[0].instance_classes


def test_semantic_class_images(shared_data, tmp_path):
    source = shared_data / "labelme" / "instance_segmentation" / "data_dataset_voc" / "SegmentationClass"
    dataset = read_masks(source)
    assert len(dataset.images) == 3 and dataset.report.instances_per_class


def test_supervisely_project(fixtures_dir, tmp_path):
    dataset = read_supervisely(fixtures_dir / "formats" / "supervisely_project")
    image = dataset.images[0]
    names = [n for n, _ in named_instances(dataset, image)]
    assert names == ["ring", "cell", "box"]
    ring = image.labels == 1
    assert ring[4, 5] and not ring[6, 7]  # the interior hole is empty
    cell = image.labels == 2
    assert cell[1, 1:4].all() and cell[2, 2] and cell.sum() == 4
    assert (image.labels[7:10, 0:3] == 3).all()
    assert image.flags == {"good": True} and image.instance_info[2]["tags"] == {"good": True}
    assert [v.kind for v in image.vectors] == ["polyline"]
    assert image.image_path is not None
    export_annotations(dataset, tmp_path / "sly", "supervisely")
    again = import_annotations(tmp_path / "sly")
    assert np.array_equal(again.images[0].labels, image.labels)
    assert (tmp_path / "sly" / "ds0" / "img" / "tiny.png").is_file()


def test_mit_xml_refused(shared_data):
    import pytest

    from seggui.core.errors import FormatError

    with pytest.raises(FormatError, match="old MIT LabelMe XML"):
        import_annotations(shared_data / "mit-labelme-xml")
