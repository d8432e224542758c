from __future__ import annotations

import numpy as np

from seggui.formats.cvat import read_cvat

from .helpers import named_instances


def test_docs_example(shared_data):
    dataset = read_cvat(shared_data / "cvat" / "docs")
    image = dataset.images[0]
    assert image.flags == {"good_frame": True}
    assert sorted(v.kind for v in image.vectors) == ["points", "polyline", "polyline", "skeleton"]
    skeleton = next(v for v in image.vectors if v.kind == "skeleton")
    assert skeleton.attributes["nodes"] == ["1", "2", "3"] and skeleton.points.shape == (3, 2)
    # The z_order 0 mask lies under the z_order 1 car polygon: reported, not silently dropped.
    assert any("mask" in where and "hidden" in why for where, why in dataset.report.skipped)
    assert [n for n, _ in named_instances(dataset, image)] == ["car", "plate"]  # plate has z_order 4: on top


def test_mask_rle_ellipse_and_z_order(fixtures_dir):
    dataset = read_cvat(fixtures_dir / "formats" / "cvat_mask.xml")
    image = dataset.images[0]
    names = named_instances(dataset, image)
    assert [n for n, _ in names] == ["debris", "cell", "cell"]
    mask = names[2][1]  # z_order 2: drawn last
    expected = np.zeros((10, 12), bool)
    expected[1, 3:5] = True  # row 0 of the box: 1 bg, 2 fg, 1 bg, then 4 fg wrap to row 1 ...
    expected[1, 6] = True
    expected[2, 2:5] = True
    assert np.array_equal(mask, expected)
    info = image.instance_info[3]
    assert info["occluded"] is True and info["attributes"] == {"live": True, "size": 3}
    assert names[1][1][6, 8] and dataset.class_by_name("cell").color == (255, 0, 0)
    assert image.flags == {"checked": True} and image.vectors[0].kind == "polyline"


def test_images_task_and_project(shared_data):
    task = read_cvat(shared_data / "cvat" / "datumaro" / "for_images" / "export_task" / "train.xml")
    info = task.images[0].instance_info[1]
    assert info["attributes"] == {"a1": True, "a2": "v3", "a3": "0003", "a4": 2.4}
    assert info["occluded"] is True and info["z_order"] == 1
    assert all(image.image_path is not None for image in task.images)
    project = read_cvat(shared_data / "cvat" / "datumaro" / "for_images" / "export_project")
    assert [i.image_name for i in project.images][:2] == ["Test/img0.jpg", "Test/img1.jpg"]
    assert all(image.image_path is not None for image in project.images)


def test_video_tracks(shared_data):
    dataset = read_cvat(shared_data / "cvat" / "datumaro" / "for_video")
    frames = {image.flags["frame"]: image for image in dataset.images}
    assert sorted(frames) == [10, 13, 16, 19]
    assert len(frames[10].instance_classes) == 1  # box present at 10, outside from 13
    assert len(frames[13].instance_classes) == 0
    assert [v.kind for v in frames[13].vectors] == ["polyline"]
    assert frames[10].image_path is not None and frames[10].image_path.name == "frame_000010.png"
    assert frames[10].labels.shape == (20, 25)


def test_skeleton_files(shared_data):
    for folder in ("for_images", "for_video"):
        dataset = read_cvat(shared_data / "cvat" / "datumaro-skeleton" / folder)
        assert not dataset.report.skipped
        assert any(v.kind == "skeleton" for image in dataset.images for v in image.vectors)
