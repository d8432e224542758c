"""seggui's exports opened by the real tools, each in its own virtual environment.

datumaro (CVAT for images 1.1 and COCO instances importers), labelme 7.x (read_label_file
+ shapes_to_label) and the Supervisely SDK (sly.Project + each geometry's draw) are not
dependencies of seggui: they live in separate venvs (.ci/run makes them), found from
SEGGUI_DATUMARO_PYTHON / SEGGUI_LABELME_PYTHON / SEGGUI_SUPERVISELY_PYTHON or the defaults below, and each test skips
naming the tool when its venv is absent. A small script runs under the tool's Python, reads
the export and prints per-cell IoU against the label images seggui exported, for cells of
30 pixels or more on real DSB2018 and Usiigaci label images.

Set up (about a minute each):
    python3 -m venv /tmp/interop-venv && /tmp/interop-venv/bin/pip install datumaro
    python3.12 -m venv /tmp/labelme-venv && /tmp/labelme-venv/bin/pip install 'labelme>=7,<8'
    python3 -m venv /tmp/supervisely-venv && /tmp/supervisely-venv/bin/pip install supervisely
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.formats import export_annotations

pytestmark = pytest.mark.interop

SCRIPTS = Path(__file__).resolve().parent / "interop"
MIN_PIXELS = 30
TOOLS = {
    "datumaro": (os.environ.get("SEGGUI_DATUMARO_PYTHON", "/tmp/interop-venv/bin/python"), "datumaro"),
    "labelme": (os.environ.get("SEGGUI_LABELME_PYTHON", "/tmp/labelme-venv/bin/python"), "labelme"),
    "supervisely": (os.environ.get("SEGGUI_SUPERVISELY_PYTHON", "/tmp/supervisely-venv/bin/python"), "supervisely"),
}


def tool_python(tool: str) -> str:
    python, module = TOOLS[tool]
    if not Path(python).is_file():
        pytest.skip(f"{tool} not installed: no Python at {python} (see this module's docstring)")
    check = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    if check.returncode != 0:
        pytest.skip(f"{tool} not importable with {python}: {check.stderr.strip().splitlines()[-1:]}")
    return python


def run_tool(tool: str, script: str, *args) -> dict:
    result = subprocess.run([tool_python(tool), str(SCRIPTS / script), *map(str, args)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def sequential(labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels)
    lookup = np.zeros(int(ids.max()) + 1, np.uint16)
    lookup[ids[ids > 0]] = np.arange(1, np.count_nonzero(ids) + 1)
    return lookup[labels]


@pytest.fixture(scope="module")
def real_cells(shared_data, tmp_path_factory) -> tuple[Dataset, Path]:
    """6 DSB2018 images and 2 Usiigaci images with their real image files, and the truth labels."""
    images = []
    for folder in sorted((shared_data / "cells" / "dsb2018").iterdir())[:6]:
        masks = sorted((folder / "masks").glob("*.png"))
        first = cv2.imread(str(masks[0]), cv2.IMREAD_GRAYSCALE)
        labels = np.zeros(first.shape, np.uint16)
        for index, path in enumerate(masks, 1):
            labels[cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0] = index
        images.append((f"{folder.name}.png", labels, folder / "images" / f"{folder.name}.png"))
    for name in ("set1", "set2"):
        folder = shared_data / "cells" / "usiigaci" / "train" / name
        labels = sequential(cv2.imread(str(folder / "instances_ids.png"), cv2.IMREAD_UNCHANGED))
        images.append((f"usiigaci_{name}.png", labels, folder / "phase.png"))
    dataset = Dataset([LabelClass(1, "cell", (200, 0, 0))], [
        ImageAnnotation(name, labels.shape[0], labels.shape[1], labels, {int(i): 1 for i in np.unique(labels) if i},
                        image_path=path) for name, labels, path in images])
    truth = tmp_path_factory.mktemp("truth") / "truth.npz"
    np.savez_compressed(truth, **{Path(name).stem: labels for name, labels, _ in images})
    return dataset, truth


def place_images(dataset: Dataset, folder: Path) -> None:
    """datumaro's CVAT and COCO importers refuse items whose image is not in images/ (COCO: images/<subset>/)."""
    folder.mkdir(parents=True, exist_ok=True)
    for image in dataset.images:
        shutil.copyfile(image.image_path, folder / image.image_name)


def assert_close(stats: dict, tool: str) -> None:
    print(f"{tool}: {stats}")
    assert stats["images"] == 8 and stats["cells"] > 300
    assert stats["mean_iou"] >= 0.99, stats
    assert stats["min_iou"] >= 0.9, stats


@pytest.mark.parametrize("polygons", [True, False], ids=["polygons", "masks"])
def test_datumaro_reads_cvat_export(real_cells, tmp_path, polygons):
    dataset, truth = real_cells
    export_annotations(dataset, tmp_path / "cvat" / "annotations.xml", "cvat", polygons=polygons)
    place_images(dataset, tmp_path / "cvat" / "images")
    assert_close(run_tool("datumaro", "datumaro_read.py", "cvat", tmp_path / "cvat", truth, MIN_PIXELS),
                 f"datumaro cvat {'polygons' if polygons else 'masks'}")


@pytest.mark.parametrize("polygons", [True, False], ids=["polygons", "rle"])
def test_datumaro_reads_coco_export(real_cells, tmp_path, polygons):
    dataset, truth = real_cells
    export_annotations(dataset, tmp_path / "coco" / "annotations" / "instances_default.json", "coco",
                       polygons=polygons)
    place_images(dataset, tmp_path / "coco" / "images" / "default")
    assert_close(run_tool("datumaro", "datumaro_read.py", "coco_instances", tmp_path / "coco", truth, MIN_PIXELS),
                 f"datumaro coco {'polygons' if polygons else 'rle'}")


@pytest.mark.parametrize("polygons", [True, False], ids=["polygons", "masks"])
def test_labelme_reads_labelme_export(real_cells, tmp_path, polygons):
    dataset, truth = real_cells
    warnings = export_annotations(dataset, tmp_path / "labelme", "labelme", polygons=polygons)
    assert not any("refuse" in w for w in warnings)  # every imagePath names the real image
    assert_close(run_tool("labelme", "labelme_read.py", tmp_path / "labelme", truth, MIN_PIXELS),
                 f"labelme {'polygons' if polygons else 'masks'}")


@pytest.mark.parametrize("polygons", [True, False], ids=["polygons", "bitmaps"])
def test_supervisely_sdk_reads_supervisely_export(real_cells, tmp_path, polygons):
    dataset, truth = real_cells
    export_annotations(dataset, tmp_path / "sly", "supervisely", polygons=polygons)
    assert_close(run_tool("supervisely", "supervisely_read.py", tmp_path / "sly", truth, MIN_PIXELS),
                 f"supervisely {'polygons' if polygons else 'bitmaps'}")

