"""LabelMe polygon export read back by labelme's own rasteriser, re-implemented here.

labelme (utils/shape.py, `shapes_to_label`) draws each shape in file order into one label
image: polygons with Pillow's `ImageDraw.polygon(outline=1, fill=1)`, mask shapes by
setting the True pixels of their PNG inside the box `points`; shapes with the same
(label, group_id) are one instance, a later shape covers an earlier one.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
from PIL import Image, ImageDraw

from seggui.formats import export_annotations, import_annotations

from .test_polygon_exactness import awkward_labels, dataset_of, dsb_labels


def labelme_rasterise(document: dict) -> np.ndarray:
    height, width = document["imageHeight"], document["imageWidth"]
    instances: list[tuple] = []
    labels = np.zeros((height, width), np.int32)
    for index, shape in enumerate(document["shapes"]):
        key = (shape["label"], shape["group_id"] if shape.get("group_id") is not None else ("shape", index))
        if key not in instances:
            instances.append(key)
        if shape["shape_type"] in ("polygon", "oriented_rectangle"):  # both: ImageDraw.polygon
            canvas = Image.new("L", (width, height), 0)
            ImageDraw.Draw(canvas).polygon([tuple(p) for p in shape["points"]], outline=1, fill=1)
            mask = np.asarray(canvas, bool)
        else:
            assert shape["shape_type"] == "mask"
            crop = np.asarray(Image.open(io.BytesIO(base64.b64decode(shape["mask"])))) > 0
            (x1, y1), (x2, y2) = np.asarray(shape["points"]).astype(int)
            mask = np.zeros((height, width), bool)
            mask[y1:y2 + 1, x1:x2 + 1] = crop
        labels[mask] = instances.index(key) + 1
    return labels


def assert_same_cells(drawn: np.ndarray, labels: np.ndarray) -> None:
    assert np.array_equal(drawn > 0, labels > 0)
    cells = [int(i) for i in np.unique(labels) if i]
    assert len(np.unique(drawn)) - 1 == len(cells)
    for cell in cells:
        found = np.unique(drawn[labels == cell])
        assert len(found) == 1, (cell, found)
        assert np.array_equal(drawn == found[0], labels == cell), cell


def nested_labels() -> np.ndarray:
    """A ring cell (id 2, written second) around a small nucleus in its hole (id 1)."""
    labels = np.zeros((40, 40), np.uint16)
    labels[5:35, 5:35] = 2
    labels[12:28, 12:28] = 0
    labels[16:24, 16:24] = 1
    return labels


def export_documents(labels_list, tmp_path) -> list[dict]:
    export_annotations(dataset_of(labels_list), tmp_path / "out", "labelme", polygons=True)
    return [json.loads((tmp_path / "out" / f"image{i}.json").read_text()) for i in range(len(labels_list))]


def test_cell_with_a_hole_does_not_hide_the_nucleus_inside(tmp_path):
    labels = nested_labels()
    document = export_documents([labels], tmp_path)[0]
    assert [s["shape_type"] for s in document["shapes"]] == ["polygon", "mask"]
    assert_same_cells(labelme_rasterise(document), labels)
    assert np.array_equal(import_annotations(tmp_path / "out").images[0].labels, labels)


def test_awkward_shapes_drawn_by_labelme_rasteriser_are_exact(tmp_path):
    labels = awkward_labels()
    document = export_documents([labels], tmp_path)[0]
    assert_same_cells(labelme_rasterise(document), labels)
    kinds = [s["shape_type"] for s in document["shapes"]]
    # ring with a hole, ring around nothing, diagonal chain, one pixel: masks; the rest polygons
    assert kinds.count("mask") == 4 and kinds.count("polygon") == 6
    two_part = [s for s in document["shapes"] if s["group_id"] is not None]
    assert len(two_part) == 2 and two_part[0]["group_id"] == two_part[1]["group_id"]
    again = import_annotations(tmp_path / "out").images[0]
    assert np.array_equal(again.labels, labels)  # drawing order kept: even the ids survive


def test_real_cells_polygons_are_exact_under_labelme(shared_data, tmp_path):
    """The README's figure: 6 DSB2018 and 2 Usiigaci images (359 cells), 0 pixels wrong."""
    usiigaci = sorted((shared_data / "cells" / "usiigaci" / "train").iterdir())[:2]
    labels_list = dsb_labels(shared_data) + [
        np.asarray(Image.open(folder / "instances_ids.png")).astype(np.uint16) for folder in usiigaci]
    assert sum(len(np.unique(labels)) - 1 for labels in labels_list) == 359
    documents = export_documents(labels_list, tmp_path)
    shape_types = [s["shape_type"] for d in documents for s in d["shapes"]]
    assert shape_types.count("polygon") >= 0.95 * len(shape_types)  # polygons, not masks, for nuclei
    for document, labels in zip(documents, labels_list):
        assert_same_cells(labelme_rasterise(document), labels)
    for image, labels in zip(import_annotations(tmp_path / "out").images, labels_list):
        assert np.array_equal(image.labels, labels)


def test_oriented_rectangle_is_a_polygon_instance(tmp_path):
    corners = [[10.0, 4.0], [30.5, 12.2], [26.0, 23.4], [5.5, 15.2]]  # a rotated rectangle (labelme 7)
    shapes = [{"label": "cell", "points": corners, "shape_type": "oriented_rectangle", "group_id": None, "flags": {}},
              {"label": "cell", "points": corners[:3], "shape_type": "oriented_rectangle", "group_id": None,
               "flags": {}}]
    document = {"version": "7.0.0", "flags": {}, "shapes": shapes, "imagePath": "x.png", "imageData": None,
                "imageHeight": 30, "imageWidth": 40}
    (tmp_path / "x.json").write_text(json.dumps(document))
    dataset = import_annotations(tmp_path / "x.json")
    image = dataset.images[0]
    expected = labelme_rasterise({**document, "shapes": shapes[:1]})
    assert np.array_equal(image.labels, expected)
    assert image.instance_info[1]["shape_type"] == "oriented_rectangle"
    assert len(dataset.report.skipped) == 1 and "needs 4" in dataset.report.skipped[0][1]
