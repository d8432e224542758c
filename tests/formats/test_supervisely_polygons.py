"""Supervisely polygon export read back by the Supervisely SDK's rasteriser, re-implemented here.

supervisely 6.74.51 (geometry/point_location.py, polygon.py): `PointLocation` floors each
[x, y] of `points.exterior` / `points.interior` to integers (pixel-centre coordinates);
`Polygon._draw_impl` fills the exterior with `cv2.fillPoly(..., 1)` into a blank mask, fills
all interiors with 0, and sets the image's pixels where the mask is set; objects draw in
list order. Bitmap objects are a zlib-compressed PNG placed at `origin` [x, y].
"""

from __future__ import annotations

import base64
import io
import json
import math
import zlib

import cv2
import numpy as np
from PIL import Image

from seggui.formats import export_annotations, import_annotations

from .test_polygon_exactness import awkward_labels, dataset_of, dsb_labels


def sdk_rasterise(document: dict) -> np.ndarray:
    height, width = document["size"]["height"], document["size"]["width"]
    labels = np.zeros((height, width), np.int32)
    for number, item in enumerate(document["objects"], 1):
        if item["geometryType"] == "polygon":
            def ints(ring):
                return np.array([[math.floor(x), math.floor(y)] for x, y in ring], np.int32)

            drawn = np.zeros((height, width), np.uint8)
            cv2.fillPoly(drawn, pts=[ints(item["points"]["exterior"])], color=1)
            cv2.fillPoly(drawn, pts=[ints(ring) for ring in item["points"]["interior"]], color=0)
            labels[drawn.astype(bool)] = number
        else:
            assert item["geometryType"] == "bitmap"
            png = zlib.decompress(base64.b64decode(item["bitmap"]["data"]))
            crop = np.asarray(Image.open(io.BytesIO(png)).convert("L")) > 0
            x, y = item["bitmap"]["origin"]
            labels[y:y + crop.shape[0], x:x + crop.shape[1]][crop] = number
    return labels


def assert_sdk_exact(labels_list, folder) -> dict:
    warnings = export_annotations(dataset_of(labels_list), folder, "supervisely", polygons=True)
    assert not any("approximate" in w for w in warnings)
    kinds: dict[str, int] = {}
    for index, labels in enumerate(labels_list):
        document = json.loads((folder / "ds0" / "ann" / f"image{index}.png.json").read_text())
        for item in document["objects"]:
            kinds[item["geometryType"]] = kinds.get(item["geometryType"], 0) + 1
            for ring in [item.get("points", {}).get("exterior", [])] + item.get("points", {}).get("interior", []):
                assert all(isinstance(v, int) for point in ring for v in point)  # nothing left to floor
        drawn = sdk_rasterise(document)
        # Objects are written in instance order, so object n is instance n.
        assert np.array_equal(drawn, labels.astype(np.int32)), f"image{index}: {np.count_nonzero(drawn != labels)} px"
    again = import_annotations(folder)
    for image, labels in zip(again.images, labels_list):
        assert np.array_equal(image.labels, labels)
    return kinds


def test_awkward_shapes_exact_under_sdk_rasteriser(tmp_path):
    kinds = assert_sdk_exact([awkward_labels()], tmp_path / "sly")
    assert kinds["polygon"] >= 7 and kinds["bitmap"] == 1  # the two-part cell stays one bitmap object
    document = json.loads((tmp_path / "sly" / "ds0" / "ann" / "image0.png.json").read_text())
    ring = document["objects"][0]
    assert ring["geometryType"] == "polygon" and len(ring["points"]["interior"]) == 1
    meta = json.loads((tmp_path / "sly" / "meta.json").read_text())
    assert meta["classes"][0]["shape"] == "any"


def test_real_nuclei_exact_under_sdk_rasteriser(shared_data, tmp_path):
    kinds = assert_sdk_exact(dsb_labels(shared_data, 6), tmp_path / "sly")
    assert kinds["polygon"] > 100


def test_real_usiigaci_cells_exact_under_sdk_rasteriser(shared_data, tmp_path):
    path = shared_data / "cells" / "usiigaci" / "train" / "set1" / "instances_ids.png"
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.uint16)
    from skimage.segmentation import relabel_sequential

    labels = relabel_sequential(labels)[0].astype(np.uint16)
    assert_sdk_exact([labels], tmp_path / "sly")


def test_bitmap_remains_the_default(tmp_path):
    export_annotations(dataset_of([awkward_labels()]), tmp_path / "sly", "supervisely")
    document = json.loads((tmp_path / "sly" / "ds0" / "ann" / "image0.png.json").read_text())
    assert {item["geometryType"] for item in document["objects"]} == {"bitmap"}
