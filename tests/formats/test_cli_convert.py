from __future__ import annotations

import json

import pytest

from seggui.cli import main
from seggui.formats import FORMATS, detect_format


def test_convert_labelme_to_coco(shared_data, tmp_path, capsys):
    source = shared_data / "labelme" / "instance_segmentation" / "data_annotated"
    assert main(["convert", str(source), "--to", "coco", "--out", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("3 images, 14 instances")
    assert len(json.loads((tmp_path / "out.json").read_text())["annotations"]) == 14


def test_failed_conversion_leaves_dest_untouched(fixtures_dir, tmp_path, capsys):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    code = main(["convert", str(fixtures_dir / "formats" / "hostile" / "malformed.json"), "--from", "labelme",
                 "--to", "png", "--out", str(dest)])
    assert code == 2 and "malformed JSON" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["dest"] and [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_failed_export_leaves_no_partial_output(tmp_path, monkeypatch):
    import numpy as np

    from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
    from seggui.core.errors import FormatError
    from seggui.formats import export_annotations

    labels = np.zeros((4, 4), np.uint16)
    labels[0, 0] = 1
    good = ImageAnnotation("a.png", 4, 4, labels, {1: 1})
    bad = ImageAnnotation("b.png", 4, 4, labels.copy(), {})  # an instance with no class
    dataset = Dataset([LabelClass(1, "a", (1, 2, 3))], [good, bad])
    for fmt, dest in (("coco-panoptic", tmp_path / "pan"), ("coco", tmp_path / "c.json"), ("cvat", tmp_path / "cv")):
        with pytest.raises(FormatError):
            export_annotations(dataset, dest, fmt)
        assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("relative, expected", [
    ("labelme/instance_segmentation/data_annotated", "labelme"),
    ("labelme/primitives/primitives.json", "labelme"),
    ("cvat/docs", "cvat"),
    ("cvat/datumaro/for_video/annotations.xml", "cvat"),
    ("coco/coco_roboflow", "coco"),
    ("coco/coco_instances", "coco"),
    ("cells/dsb2018", "masks"),
])
def test_detect_format(shared_data, relative, expected):
    assert detect_format(shared_data / relative) == expected


def test_format_list_for_menus():
    keys = {f.key for f in FORMATS}
    assert {"labelme", "cvat", "supervisely", "coco", "coco-panoptic", "masks", "png"} <= keys
    assert all(f.name and f.file_filter for f in FORMATS)


def test_no_qt_or_torch_imported():
    import subprocess
    import sys

    code = ("import sys, seggui.formats, seggui.formats.cli_convert;"
            "from seggui.formats import coco, cvat, labelme, supervisely, masks, coco_panoptic, mit_xml;"
            "print(any(m.startswith(('PySide6', 'torch')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_folder_above_the_annotations_names_the_subfolder(tmp_path):
    import shutil

    import pytest

    from seggui.core.errors import FormatError
    from seggui.formats import detect_format

    from pathlib import Path

    source = next((Path(__file__).parents[1] / "fixtures" / "formats" / "labelme_old").glob("*.json"))
    (tmp_path / "data_annotated").mkdir()
    shutil.copy(source, tmp_path / "data_annotated" / source.name)
    with pytest.raises(FormatError, match="data_annotated"):
        detect_format(tmp_path)
