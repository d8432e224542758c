"""Sizes an annotation file declares pass the image limits before any label array is made.

A LabelMe file declaring 200000x200000 with no image once made `seggui convert` allocate
149 GiB; now it is refused at once (exit 2, the file named), in bounded time and memory.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from seggui.core.errors import FormatError
from seggui.formats import import_annotations
from tests.reliability.child_memory import peak_kib, seggui_command

HUGE = 200_000


def labelme_file(folder):
    path = folder / "huge.json"
    path.write_text(json.dumps({"version": "5.0.1", "flags": {}, "imagePath": "absent.png", "imageData": None,
                                "imageHeight": HUGE, "imageWidth": HUGE,
                                "shapes": [{"label": "cell", "points": [[1, 1], [50, 1], [50, 50]],
                                            "shape_type": "polygon"}]}))
    return path


def coco_file(folder):
    path = folder / "huge_coco.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "absent.png", "height": HUGE, "width": HUGE}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1,
                         "segmentation": {"size": [HUGE, HUGE], "counts": [HUGE * HUGE]}, "bbox": [0, 0, 1, 1]}],
        "categories": [{"id": 1, "name": "cell"}]}))
    return path


@pytest.mark.parametrize("make, fmt", [(labelme_file, "labelme"), (coco_file, "coco")])
def test_declared_size_refused_by_convert(tmp_path, make, fmt):
    path = make(tmp_path)
    started = time.monotonic()
    result = subprocess.run(seggui_command("convert", str(path), "--from", fmt, "--to", "png",
                                           "--out", str(tmp_path / "out")),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert path.name in result.stderr and "declared size refused" in result.stderr
    assert "SEGGUI_MAX_PIXELS" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60
    peak = peak_kib(result.stderr)
    assert peak is None or peak < 1024 * 1024, f"child peaked at {peak} KiB"
    assert not (tmp_path / "out").exists()


def test_declared_size_within_pixels_but_above_label_bytes(tmp_path, monkeypatch):
    """16-bit ids or not, painting uses 4 bytes a pixel: that must fit SEGGUI_MAX_IMAGE_MB too."""
    from seggui.formats import canvas

    path = labelme_file(tmp_path)
    data = json.loads(path.read_text())
    data["imageHeight"] = data["imageWidth"] = 2000
    path.write_text(json.dumps(data))
    monkeypatch.setattr(canvas, "check_limits", _limits(max_bytes=8 * 1024**2))
    with pytest.raises(FormatError, match="decoded, above the limit") as error:
        import_annotations(path, format="labelme")
    assert error.value.path == str(path)


def _limits(max_bytes):
    from seggui.core.image_limits import check_limits

    return lambda header, path: check_limits(header, path, max_bytes=max_bytes)
