"""Hostile microscope files and COCO panoptic sets: mutated OME-TIFFs written here, mutated
copies (in tmp_path only) of the real CZI and LIF files, mutated panoptic JSON and PNGs.

Every case must end in success or in a SegguiError naming the file: never another
exception, a hang, a crash, or memory beyond the limit the fuzz process runs under.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seggui.core.imageio import describe_pages, read_image

REPO_ROOT = Path(__file__).resolve().parents[2]
MEMORY_MB = 3072  # address space of the fuzz process; its imports take about 0.8 GB of it


@pytest.mark.slow
def test_mutated_microscope_files_and_panoptic_sets(shared_data, tmp_path):
    pytest.importorskip("bioio")
    pytest.importorskip("liffile")
    command = [sys.executable, "-m", "tests.reliability.fuzz_microscopy", "--cases", "600", "--seed", "5",
               "--workdir", str(tmp_path), "--data", str(shared_data), "--memory-mb", str(MEMORY_MB)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    finished = [line for line in lines if "outcome" in line]
    if result.returncode not in (0, 1):  # the process itself died: name the case it was on
        started = [line["start"] for line in lines if "start" in line]
        pytest.fail(f"fuzz process died (code {result.returncode}) on case {started[-1] if started else None}: "
                    f"{result.stderr[-2000:]}")
    failures = [line for line in finished if line["outcome"] not in ("ok", "refused")]
    assert not failures, failures[:5]
    summary = lines[-1]
    assert summary["cases"] == len(finished) == 600
    assert summary["outcomes"]["ok"] > 100 and summary["outcomes"]["refused"] > 100  # both paths exercised
    sources = set(summary["sources"])
    assert {"RGB-8bit.czi", "s_1_t_1_c_1_z_1.czi", "xz-example.lif", "panoptic_val.json", "tz.ome.tif"} <= sources
    assert summary["peak_rss_mb"] < 1500
    assert max(line["seconds"] for line in finished) < 5


def test_ome_xml_with_nonsense_sizes_still_reads(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "odd.ome.tif"
    tifffile.imwrite(path, np.ones((2, 8, 9), np.uint8), photometric="minisblack",
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.5})
    data = path.read_bytes()
    for value in (b"nan", b"-1 ", b"0.0", b"inf"):
        broken = data.replace(b'PhysicalSizeX="0.5"', b'PhysicalSizeX="' + value + b'"')
        assert broken != data
        path.write_bytes(broken)
        image = read_image(path, page=1)
        assert image.array.shape == (8, 9) and image.pixel_size_um is None
        assert [p.index for p in describe_pages(path)] == [0, 1]


@pytest.mark.parametrize("field, value", [("segments_info", 1.5), ("image_id", [5]), ("segments_info", {"a": 1}),
                                          ("category_id", [1]), ("images", 3), ("categories", 7.0)])
def test_panoptic_fields_of_the_wrong_type(tmp_path, field, value):
    # Found by fuzz_microscopy (seed 7): a number for segments_info and a list for image_id raised TypeError.
    from seggui.formats import import_annotations
    from tests.reliability.fuzz_microscopy import write_panoptic_seed

    path = write_panoptic_seed(tmp_path).path
    document = json.loads(path.read_text())
    if field in ("images", "categories"):
        document[field] = value
    elif field == "category_id":
        document["annotations"][0]["segments_info"][0]["category_id"] = value
    else:
        document["annotations"][0][field] = value
    path.write_text(json.dumps(document))
    dataset = import_annotations(path, format="coco-panoptic")
    assert len(dataset.images) == 1  # the image is kept; what the field held is dropped or reported
