"""Exports say what they write: every label layer merged by default, and a list of what is left out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from seggui.core.annotation import LabelClass
from seggui.core.document import Document
from seggui.core.export_selection import FIRST, ExportChoice, collect_dataset
from seggui.core.layers import LabelLayer
from seggui.core.project import Project

REPO = Path(__file__).resolve().parents[2]


def project_with_two_layers(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    for index in range(3):
        cv2.imwrite(str(tmp_path / "images" / f"img{index}.png"), np.full((30, 40), 50 + index, np.uint8))
    project = Project.create(tmp_path / "project")
    document = Document()
    project.add_images(document, [tmp_path / "images"])
    first, second, third = document.images
    painted = first.label_layers[0]
    painted.data[2:8, 2:8] = 1
    painted.data[20:25, 20:25] = 2
    imported = LabelLayer(np.zeros((30, 40), np.uint16), name="imported annotations",
                          classes=[LabelClass(1, "nucleus", (255, 0, 0))])
    imported.data[5:12, 5:12] = 1  # overlaps cell 1 of the layer below
    imported.data[0:3, 30:38] = 2
    document.add_layer(first, imported)
    only_imported = LabelLayer(np.zeros((30, 40), np.uint16), name="imported annotations")
    only_imported.data[10:20, 10:20] = 4
    document.add_layer(second, only_imported)  # its first layer "labels" is empty
    document.set_status(first, "reviewed")
    project.save(document)
    project.close()
    return tmp_path / "project"


def test_merged_export_holds_every_layer_and_reports_overlaps(tmp_path):
    project, document = Project.open(project_with_two_layers(tmp_path))
    dataset = collect_dataset(document)
    first, second, third = dataset.images
    assert len(first.instance_classes) == 4  # 2 painted + 2 imported, renumbered
    assert np.count_nonzero(first.labels) == 36 + 25 + 49 + 24 - 9  # the imported cell covers 9 pixels
    assert len(np.unique(first.labels)) == 5
    assert (first.labels[5:12, 5:12] == first.labels[5, 5]).all()  # the upper layer wins
    assert len(second.instance_classes) == 1 and np.count_nonzero(second.labels) == 100
    assert not third.instance_classes
    assert any("covers 9 labelled pixels" in w for w in dataset.report.warnings)
    old_way = collect_dataset(document, choice=ExportChoice(FIRST))
    assert not old_way.images[1].instance_classes  # what used to be exported: nothing
    project.close()


def test_reviewed_only_and_a_named_layer_list_what_they_leave_out(tmp_path):
    project, document = Project.open(project_with_two_layers(tmp_path))
    dataset = collect_dataset(document, choice=ExportChoice("imported annotations", reviewed_only=True))
    assert [i.image_name for i in dataset.images] == ["img0.png"]
    assert dict(dataset.report.skipped) == {"img1.png": "not reviewed (status new)",
                                            "img2.png": "not reviewed (status new)"}
    named = collect_dataset(document, choice=ExportChoice("imported annotations"))
    assert dict(named.report.skipped) == {"img2.png": "has no label layer named 'imported annotations'"}
    project.close()


def test_convert_cli_exports_a_project_with_the_same_choices(tmp_path):
    folder = project_with_two_layers(tmp_path)
    out = tmp_path / "out.json"
    result = subprocess.run([sys.executable, "-m", "seggui", "convert", str(folder), "--to", "coco", "--out",
                             str(out)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    coco = json.loads(out.read_text())
    per_image = {image["file_name"]: sum(1 for a in coco["annotations"] if a["image_id"] == image["id"])
                 for image in coco["images"]}
    assert per_image == {"img0.png": 4, "img1.png": 1, "img2.png": 0}
    assert "covers 9 labelled pixels" in result.stderr
    reviewed = subprocess.run([sys.executable, "-m", "seggui", "convert", str(folder), "--to", "coco", "--out",
                               str(tmp_path / "reviewed.json"), "--reviewed-only", "--layers", "first"],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
    assert reviewed.returncode == 0, reviewed.stderr
    assert "skipped img1.png: not reviewed" in reviewed.stderr
    assert len(json.loads((tmp_path / "reviewed.json").read_text())["annotations"]) == 2
