"""CVAT export details: groups (`group_id`) keep multi-part cells one cell both ways, real
`z_order`, and each label's attributes in <meta> as CVAT lists them."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import cv2
import numpy as np

from seggui.formats import export_annotations, import_annotations

from .test_polygon_exactness import awkward_labels, dataset_of, dsb_labels

XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <image id="0" name="a.png" width="20" height="10">
    <polygon label="cell" points="1,1;4,1;4,4;1,4" group_id="7" z_order="0"/>
    <polygon label="cell" points="10,1;13,1;13,4;10,4" group_id="7" z_order="0"/>
    <polygon label="cell" points="1,6;4,6;4,9;1,9" group_id="0" z_order="0"/>
    <polygon label="cell" points="10,6;13,6;13,9;10,9" z_order="0"/>
    <box label="tag" xtl="15" ytl="1" xbr="18" ybr="4" group_id="7" z_order="0"/>
  </image>
  <image id="1" name="b.png" width="20" height="10">
    <polygon label="cell" points="1,1;4,1;4,4;1,4" group_id="7" z_order="0"/>
  </image>
</annotations>
"""


def test_import_merges_shapes_of_one_label_and_group(tmp_path):
    (tmp_path / "a.xml").write_text(XML)
    first, second = import_annotations(tmp_path / "a.xml").images
    assert len(first.instance_classes) == 4  # the group of two, two ungrouped, the box of another label
    grouped = np.unique(first.labels[[2, 2], [2, 11]])
    assert len(grouped) == 1 and grouped[0] != 0
    assert first.labels[7, 2] != first.labels[7, 11]
    assert first.labels[2, 16] not in (0, grouped[0])
    assert len(second.instance_classes) == 1  # groups are per image


def test_export_gives_each_multi_part_cell_its_own_group(tmp_path):
    labels = awkward_labels()
    labels[30:33, 60:63] = 5  # a second two-part cell (the bar has a far piece now)
    export_annotations(dataset_of([labels]), tmp_path / "c.xml", "cvat", polygons=True)
    polygons = list(ElementTree.parse(tmp_path / "c.xml").getroot().iter("polygon"))
    groups: dict[str, int] = {}
    for polygon in polygons:
        if polygon.get("group_id"):
            groups[polygon.get("group_id")] = groups.get(polygon.get("group_id"), 0) + 1
    assert groups == {"1": 2, "2": 2}
    assert len(polygons) == len(np.unique(labels)) - 1 + 2
    again = import_annotations(tmp_path / "c.xml").images[0]
    assert np.array_equal(again.labels, labels)


def test_real_multi_part_cells_round_trip(shared_data, tmp_path):
    """Usiigaci label images have cells with small detached fragments."""
    path = shared_data / "cells" / "usiigaci" / "train" / "set10" / "instances_ids.png"
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.uint16)
    labels_list = [labels] + dsb_labels(shared_data)
    export_annotations(dataset_of(labels_list), tmp_path / "c.xml", "cvat", polygons=True)
    root = ElementTree.parse(tmp_path / "c.xml").getroot()
    first = root.find("image")
    assert len({p.get("group_id") for p in first.iter("polygon") if p.get("group_id")}) >= 5
    again = import_annotations(tmp_path / "c.xml").images
    assert sum(len(i.instance_classes) for i in again) == sum(len(np.unique(x)) - 1 for x in labels_list)
    for image, expected in zip(again, labels_list):
        assert np.array_equal(image.labels, expected)


def test_z_order_written_back(shared_data, tmp_path):
    source = shared_data / "cvat" / "docs" / "cvat_for_images_1.1_docs_example.xml"
    export_annotations(import_annotations(source), tmp_path / "c.xml", "cvat")
    after = ElementTree.parse(tmp_path / "c.xml").getroot().find("image")
    # car polygon z 1, plate box z 4 (the z 0 mask lies under the car); lines 3, 2, points 5, skeleton 0
    assert {e.get("label"): int(e.get("z_order")) for e in after if e.tag == "mask"} == {"car": 1, "plate": 4}
    assert sorted(int(e.get("z_order")) for e in after if e.tag in ("polyline", "points")) == [0, 2, 3, 5]
    again = import_annotations(tmp_path / "c.xml").images[0]
    assert sorted(info["z_order"] for info in again.instance_info.values()) == [1, 4]


def test_label_attributes_listed_in_meta(shared_data, tmp_path):
    source = shared_data / "cvat" / "datumaro" / "for_images" / "export_task" / "train.xml"
    dataset = import_annotations(source)
    export_annotations(dataset, tmp_path / "c.xml", "cvat")
    labels = {label.findtext("name"): label for label in ElementTree.parse(tmp_path / "c.xml").getroot().iter("label")}
    specs = {a.findtext("name"): (a.findtext("input_type"), a.findtext("values"))
             for a in labels["label1"].iter("attribute")}
    assert specs == {"a1": ("checkbox", "false\ntrue"), "a2": ("text", ""), "a3": ("text", ""),
                     "a4": ("number", "2.4\n2.4\n0.1")}
    assert list(labels["label2"].iter("attribute")) == []
    before = [info["attributes"] for image in dataset.images for info in image.instance_info.values()]
    again = import_annotations(tmp_path / "c.xml")
    after = [info["attributes"] for image in again.images for info in image.instance_info.values()]
    assert after == before and before[0] == {"a1": True, "a2": "v3", "a3": "0003", "a4": 2.4}
