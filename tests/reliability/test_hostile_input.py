"""Hostile and broken input: thousands of mutated real files, plus hand-made attacks.

Every case must end in success or in a SegguiError naming the file: never another
exception, a hang, a crash or a half-written export.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from seggui.core.errors import FormatError, ImageReadError, SegguiError
from seggui.core.imageio import read_image
from seggui.formats import export_annotations, import_annotations

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_thousand_mutated_real_files(shared_data, tmp_path):
    command = [sys.executable, "-m", "tests.reliability.fuzz_runner", "--cases", "2100", "--seed", "11",
               "--workdir", str(tmp_path), "--data", str(shared_data)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=170,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    finished = [line for line in lines if "outcome" in line]
    failures = [line for line in finished if line["outcome"] not in ("ok", "refused")]
    if result.returncode not in (0, 1):  # the process itself died: name the case it was on
        started = [line["start"] for line in lines if "start" in line]
        pytest.fail(f"fuzz process died (code {result.returncode}) on case {started[-1] if started else None}: "
                    f"{result.stderr[-2000:]}")
    assert not failures, failures[:5]
    summary = lines[-1]
    assert summary["cases"] == len(finished) == 2100
    assert summary["outcomes"]["ok"] > 300 and summary["outcomes"]["refused"] > 300  # both paths exercised
    assert set(summary["targets"]) == {"labelme", "coco", "cvat", "mit-xml", "masks", "image"}


# -- hand-made hostile cases -------------------------------------------------------------

def png_bytes(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def with_ihdr(data: bytes, width: int, height: int) -> bytes:
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:]


def assert_refused_naming(call, path: Path, error_type=SegguiError) -> SegguiError:
    with pytest.raises(error_type) as caught:
        call()
    assert path.name in str(caught.value), str(caught.value)
    return caught.value


def test_pixel_limit_applies_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(with_ihdr(png_bytes(np.zeros((8, 8), np.uint8)), 100_000, 100_000))
    error = assert_refused_naming(lambda: read_image(path), path, ImageReadError)
    assert "above the limit" in str(error)
    small = tmp_path / "small.png"
    small.write_bytes(png_bytes(np.zeros((40, 40), np.uint8)))
    assert read_image(small).array.shape == (40, 40)
    assert_refused_naming(lambda: read_image(small, max_pixels=1000), small, ImageReadError)  # configurable


def test_png_chunk_longer_than_file_is_refused_at_once(tmp_path):
    # Found by the fuzzer: one flipped byte made an IDAT claim 2 GB and OpenCV spent seconds on it.
    data = bytearray(png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)))
    data[33:37] = struct.pack(">I", 2_382_430_208)
    path = tmp_path / "flipped.png"
    path.write_bytes(bytes(data))
    error = assert_refused_naming(lambda: read_image(path), path, ImageReadError)
    assert "declares 2,382,430,208 bytes" in str(error)


def test_broken_tiff_tags_are_image_errors(tmp_path):
    import tifffile

    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((3, 20, 30), np.uint16), photometric="minisblack")
    data = bytearray(path.read_bytes())
    for position in range(8, min(len(data), 200), 7):  # damage the tags a decoder trusts
        data[position] ^= 0x5A
    path.write_bytes(bytes(data))
    assert_refused_naming(lambda: read_image(path), path, ImageReadError)


def test_billion_laughs_and_external_entities_refused(tmp_path):
    for name, body in {
        "laughs.xml": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaaaaaaaa">'
                      '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                      '<annotations><meta>&c;</meta></annotations>',
        "external.xml": '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                        '<annotations><meta>&e;</meta></annotations>',
        "bogus_encoding.xml": '<?xml version="1.0" encoding="bogus"?><annotations/>',
    }.items():
        path = tmp_path / name
        path.write_text(body)
        error = assert_refused_naming(lambda: import_annotations(path, format="cvat"), path, FormatError)
        assert "passwd" not in str(error) or "root:" not in str(error)


def test_json_nested_too_deeply(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    assert_refused_naming(lambda: import_annotations(path, format="labelme"), path, FormatError)


def labelme_file(folder: Path, name: str, image_path: str, shapes: list, **extra) -> Path:
    path = folder / name
    path.write_text(json.dumps({"version": "5.0.1", "flags": {}, "shapes": shapes, "imagePath": image_path,
                                "imageData": None, "imageHeight": 30, "imageWidth": 40, **extra}))
    return path


def test_paths_inside_annotations_stay_inside_the_chosen_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_bytes(np.full((30, 40), 255, np.uint8)))
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    square = [{"label": "cell", "points": [[1, 1], [10, 1], [10, 10]], "shape_type": "polygon", "group_id": None,
               "flags": {}}]
    for reference in ("../outside/secret.png", str(outside / "secret.png"), "..\\outside\\secret.png"):
        path = labelme_file(chosen, "a.json", reference, square)
        dataset = import_annotations(path, format="labelme")
        assert dataset.images[0].image_path is None, reference
        assert any("outside" in warning for warning in dataset.report.warnings), dataset.report.warnings


def test_symlink_pointing_outside_the_folder_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_bytes(np.full((30, 40), 255, np.uint8)))
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "link.png").symlink_to(outside / "secret.png")
    square = [{"label": "cell", "points": [[1, 1], [10, 1], [10, 10]], "shape_type": "polygon", "group_id": None,
               "flags": {}}]
    path = labelme_file(chosen, "a.json", "link.png", square)
    dataset = import_annotations(path, format="labelme")
    image = dataset.images[0]
    assert image.image_path is None or Path(image.image_path).resolve().is_relative_to(chosen.resolve()), \
        image.image_path


def test_base64_mask_larger_than_its_box_is_reported(tmp_path):
    mask = base64.b64encode(png_bytes(np.ones((500, 500), np.uint8))).decode()
    shape = {"label": "cell", "points": [[2, 2], [6, 6]], "shape_type": "mask", "mask": mask, "group_id": None,
             "flags": {}}
    path = labelme_file(tmp_path, "m.json", "none.png", [shape])
    try:
        dataset = import_annotations(path, format="labelme")
    except FormatError as error:
        assert "m.json" in str(error)
        return
    assert dataset.report.skipped, "a 500x500 mask in a 5x5 box was silently accepted"


def test_coco_rle_not_matching_declared_size_is_reported(tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes(np.zeros((10, 10), np.uint8)))
    coco = {"images": [{"id": 1, "file_name": "a.png", "height": 10, "width": 10}],
            "categories": [{"id": 1, "name": "cell"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1,
                 "segmentation": {"size": [10, 10], "counts": [5, 10**12]}},
                {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 1,
                 "segmentation": {"size": [10, 10], "counts": [5, 2**70]}},  # found by the fuzzer
            ]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(coco))
    try:
        dataset = import_annotations(path, format="coco")
    except FormatError as error:
        assert "coco.json" in str(error)
        return
    assert len(dataset.report.skipped) == 2, dataset.report.skipped


def test_failed_export_leaves_destination_untouched(tmp_path, monkeypatch, shared_data):
    dataset = import_annotations(shared_data / "coco/coco_instances/annotations/instances_val.json",
                                 images_dir=shared_data / "coco/coco_instances/images/val")
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "previous.json").write_text("keep me")
    from seggui.formats import labelme

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(labelme, "write_bytes_atomic", fail, raising=False)
    monkeypatch.setattr("seggui.formats.safety.write_bytes_atomic", fail)
    with pytest.raises((SegguiError, OSError)):
        export_annotations(dataset, destination, "labelme")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staged folder left behind
    assert [p.name for p in destination.iterdir()] == ["previous.json"]
    assert (destination / "previous.json").read_text() == "keep me"
