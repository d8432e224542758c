"""COCO panoptic in the layout the COCO tools and datumaro write:
annotations/panoptic_<split>.json beside annotations/panoptic_<split>/<stem>.png."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.formats import detect_format, export_annotations, import_annotations


def write_standard_layout(root, split: str, ids: np.ndarray) -> None:
    """Written here from the COCO panoptic spec, not by seggui: id = R + 256 G + 256^2 B."""
    annotations = root / "annotations"
    (annotations / f"panoptic_{split}").mkdir(parents=True)
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(annotations / f"panoptic_{split}" / "cells_1.png")
    (root / "images" / split).mkdir(parents=True)
    Image.fromarray(np.zeros(ids.shape, np.uint8)).save(root / "images" / split / "cells_1.jpg")
    segments = [{"id": int(i), "category_id": 1 if i < 300 else 2, "area": int((ids == i).sum()),
                 "bbox": [0, 0, 1, 1], "iscrowd": 0} for i in np.unique(ids) if i]
    document = {
        "licenses": [], "info": {},
        "categories": [{"id": 1, "name": "nucleus", "isthing": 1, "color": [10, 20, 30]},
                       {"id": 2, "name": "cytoplasm", "isthing": 1, "color": [40, 50, 60]}],
        "images": [{"id": 5, "file_name": "cells_1.jpg", "height": ids.shape[0], "width": ids.shape[1]}],
        "annotations": [{"image_id": 5, "file_name": "cells_1.png", "segments_info": segments}],
    }
    (annotations / f"panoptic_{split}.json").write_text(json.dumps(document))


def sample_ids() -> np.ndarray:
    ids = np.zeros((20, 30), np.int64)
    ids[2:8, 3:9] = 7
    ids[10:18, 12:20] = 300  # above 255: uses the green channel
    ids[1:4, 25:29] = 70000  # uses the blue channel
    return ids


@pytest.mark.parametrize("split", ["default", "val2017"])
def test_standard_layout_imports_from_json_and_from_folder(tmp_path, split):
    ids = sample_ids()
    write_standard_layout(tmp_path, split, ids)
    json_file = tmp_path / "annotations" / f"panoptic_{split}.json"
    for source in (json_file, tmp_path, tmp_path / "annotations"):
        assert detect_format(source) == "coco-panoptic", source
        dataset = import_annotations(source)
        image = dataset.images[0]
        assert np.array_equal(image.labels.astype(np.int64), ids)
        names = {c.id: c.name for c in dataset.classes}
        assert {names[image.instance_classes[i]] for i in (7, 300, 70000)} == {"nucleus", "cytoplasm"}
        assert dataset.classes[0].color == (10, 20, 30)
        assert image.image_path is not None and image.image_path.name == "cells_1.jpg"
        assert not dataset.report.skipped


def test_two_splits_are_both_read_and_kept_apart(tmp_path):
    write_standard_layout(tmp_path, "train", sample_ids())
    (tmp_path / "images" / "val").mkdir(parents=True)
    other = tmp_path / "other"
    write_standard_layout(other, "val", sample_ids() * (sample_ids() != 7))
    for name in ("panoptic_val", "panoptic_val.json"):
        (other / "annotations" / name).rename(tmp_path / "annotations" / name)
    dataset = import_annotations(tmp_path)
    assert sorted(image.image_name for image in dataset.images) == ["train/cells_1.jpg", "val/cells_1.jpg"]
    assert sorted(len(image.instance_classes) for image in dataset.images) == [2, 3]


def test_seggui_export_moved_into_the_standard_layout(tmp_path):
    labels = np.zeros((12, 12), np.uint16)
    labels[1:5, 1:5], labels[6:11, 6:11] = 1, 2
    dataset = Dataset([LabelClass(1, "nucleus", (200, 0, 0))], [ImageAnnotation("a.png", 12, 12, labels, {1: 1, 2: 1})])
    export_annotations(dataset, tmp_path / "out", "coco-panoptic")
    (tmp_path / "std" / "annotations").mkdir(parents=True)
    (tmp_path / "out" / "panoptic.json").rename(tmp_path / "std" / "annotations" / "panoptic_default.json")
    (tmp_path / "out" / "panoptic").rename(tmp_path / "std" / "annotations" / "panoptic_default")
    again = import_annotations(tmp_path / "std")
    assert np.array_equal(again.images[0].labels, labels) and again.classes[0].color == (200, 0, 0)


def test_missing_png_is_skipped_with_its_reason(tmp_path):
    write_standard_layout(tmp_path, "default", sample_ids())
    (tmp_path / "annotations" / "panoptic_default" / "cells_1.png").unlink()
    from seggui.core.errors import FormatError

    with pytest.raises(FormatError, match="cells_1.png"):
        import_annotations(tmp_path)
