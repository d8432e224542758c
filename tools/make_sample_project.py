"""Regenerate seggui/resources/sample from ../shared/data (developers only).

Images: DSB2018 nuclei (CC0) held out from the bundled model's training, and Usiigaci
phase-contrast cells (MIT). Annotations: the datasets' own masks exported as LabelMe
polygons and CVAT polygons by seggui's exporters, so the demo imports real files of
those formats.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass
from seggui.core.imageio import read_image
from seggui.formats import export_annotations

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "cells"
OUT = ROOT / "seggui" / "resources" / "sample"

DSB = {  # id prefix -> (role, status)
    "5f9d29d638": ("labelme", "reviewed"),
    "29dd28df98": ("labelme", "reviewed"),
    "6bd18a218d": (None, "new"),
    "942d56861f": (None, "new"),
    "6c67b78e81": (None, "new"),
}
USIIGACI = {"set1": ("cvat", "reviewed"), "set2": (None, "new")}


def dsb_labels(folder: Path) -> np.ndarray:
    masks = sorted((folder / "masks").glob("*.png"))
    labels = None
    for index, mask in enumerate(masks, start=1):
        array = read_image(mask).array
        labels = np.zeros(array.shape[:2], np.uint16) if labels is None else labels
        labels[array > 0] = index
    return labels


def annotation(name: str, labels: np.ndarray, path: Path) -> ImageAnnotation:
    ids = [int(i) for i in np.unique(labels) if i]
    return ImageAnnotation(name, labels.shape[0], labels.shape[1], labels, {i: 1 for i in ids}, image_path=path)


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "images").mkdir(parents=True)
    manifest = {"images": [], "imports": []}
    labelme, cvat = [], []
    for prefix, (role, status) in DSB.items():
        folder = next(SHARED.joinpath("dsb2018").glob(prefix + "*"))
        name = f"nuclei-{prefix[:6]}.png"
        shutil.copyfile(folder / "images" / f"{folder.name}.png", OUT / "images" / name)
        manifest["images"].append({"file": f"images/{name}", "status": status, "class": "nucleus",
                                   "source": f"DSB2018 {folder.name}"})
        if role == "labelme":
            labelme.append(annotation(name, dsb_labels(folder), OUT / "images" / name))
    for set_name, (role, status) in USIIGACI.items():
        folder = SHARED / "usiigaci" / "train" / set_name
        name = f"phase-{set_name}.png"
        shutil.copyfile(folder / "phase.png", OUT / "images" / name)
        manifest["images"].append({"file": f"images/{name}", "status": status, "class": "cell",
                                   "source": f"Usiigaci train/{set_name}"})
        if role == "cvat":
            labels = read_image(folder / "instances_ids.png").array.astype(np.uint16)
            cvat.append(annotation(name, labels, OUT / "images" / name))
    export_annotations(Dataset([LabelClass(1, "nucleus", (230, 159, 0))], labelme),
                       OUT / "annotations" / "labelme", "labelme", polygons=True)
    export_annotations(Dataset([LabelClass(1, "cell", (86, 180, 233))], cvat),
                       OUT / "annotations" / "cvat.xml", "cvat", polygons=True)
    manifest["imports"] = [{"path": "annotations/labelme", "format": "labelme"},
                           {"path": "annotations/cvat.xml", "format": "cvat"}]
    (OUT / "sample.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
