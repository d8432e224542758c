"""The public scripting API (seggui.api): the same functions as the window and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from seggui import api
from seggui.core.errors import ProjectError


def write_images(folder, count=2):
    import cv2

    folder.mkdir(parents=True)
    yy, xx = np.mgrid[:64, :64]
    for index in range(count):
        image = np.full((64, 64), 20, np.uint8)
        for cy, cx in ((16, 16), (40, 44 - index * 4)):
            image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 49] = 200
        cv2.imwrite(str(folder / f"img{index}.png"), image)
    return folder


def test_a_script_runs_the_loop_without_qt(tmp_path):
    code = f"""
import sys
from seggui import api
with api.create_project({str(tmp_path / 'p')!r}, [{str(write_images(tmp_path / 'images'))!r}]) as project:
    project.presegment('classic')
    project.save()
assert not any(name.startswith('PySide6') for name in sys.modules), 'Qt was loaded'
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_project_session_lists_presegments_edits_exports(tmp_path):
    images = write_images(tmp_path / "images")
    with api.create_project(tmp_path / "project", [images]) as project:
        assert [(r.name, r.status) for r in project.images()] == [("img0.png", "new"), ("img1.png", "new")]
        painted = np.zeros((64, 64), np.uint16)
        painted[2:6, 2:6] = 1
        project.set_labels("img1.png", painted)  # a person's cell: the batch must not replace it
        outcome = project.presegment("classic")
        assert outcome["applied"] == ["img0.png"] and outcome["skipped"] == ["img1.png"]
        labels = project.labels("img0.png")
        assert len(np.unique(labels)) == 3  # two cells and background
        cells = {r.name: r.cells for r in project.images()}
        assert cells == {"img0.png": 2, "img1.png": 1}  # counted now, not only at the next save
        assert np.array_equal(project.labels("img1.png"), painted)
        project.set_status("img0.png", "reviewed")
        project.save()
        warnings = project.export(tmp_path / "out" / "cells.json", "coco", reviewed_only=True)
        assert any("img1.png" in w and "not reviewed" in w for w in warnings)
        with pytest.raises(ProjectError, match="no image named 'missing.png'"):
            project.labels("missing.png")
        with pytest.raises(ValueError, match="shape"):
            project.set_labels("img0.png", np.zeros((3, 3), np.uint16))
    coco = json.loads((tmp_path / "out" / "cells.json").read_text())
    assert [i["file_name"] for i in coco["images"]] == ["img0.png"] and len(coco["annotations"]) == 2
    with api.open_project(tmp_path / "project") as again:
        record = {r.name: r for r in again.images()}["img0.png"]
        assert record.status == "reviewed" and record.cells == 2 and record.model == "classic"
        outcome = again.import_annotations(tmp_path / "out" / "cells.json")
        assert outcome.layers_added == 1


def test_segment_and_train_are_the_cli_code(tmp_path):
    images = write_images(tmp_path / "images")
    prediction = api.segment(images / "img0.png", model="classic")
    assert prediction.labels.max() == 2 and set(prediction.scores) == {1, 2}
    assert "classic" in api.models()
    with api.create_project(tmp_path / "project", [images]) as project:
        project.presegment("classic")
        for record in project.images():
            project.set_status(record.name, "reviewed")
        project.save()
    events = []
    card = api.train(tmp_path / "model", project=tmp_path / "project", base=None, epochs=1, width=4, depth=2,
                     crop_size=32, batch_size=2, crops_per_epoch=2, threads=1, on_event=events.append)
    assert card["training"]["config"]["learning_rate"] == 2e-3  # the recipe's, from scratch
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "done"
    assert api.segment(images / "img0.png", model=str(tmp_path / "model")).labels.shape == (64, 64)


def test_images_of_the_same_name_are_told_apart_by_record(tmp_path):
    import cv2

    for folder, value in (("a", 10), ("b", 200)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "phase.png"), np.full((16, 16), value, np.uint8))
    with api.create_project(tmp_path / "p", [tmp_path / "a", tmp_path / "b"]) as project:
        first, second = project.images()
        with pytest.raises(ProjectError, match="2 images are named 'phase.png'"):
            project.labels("phase.png")
        labels = np.zeros((16, 16), np.uint16)
        labels[2:5, 2:5] = 1
        project.set_labels(second, labels, status="reviewed")
        assert project.labels(second.id).max() == 1 and project.labels(first).max() == 0
