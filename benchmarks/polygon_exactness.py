"""How exactly polygon exports come back when the real tools rasterise them; one JSON line each.

    python benchmarks/polygon_exactness.py

Exports 6 DSB2018 and 2 Usiigaci label images (../shared/data) as COCO polygons through the
real `coco_document` path, rasterises every annotation with pycocotools (`annToMask`, as COCO's
API and datumaro do) and compares with the original instance pixels. The baseline in the same
run is the previous method, polygons through boundary-pixel centres shifted by half a pixel.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass  # noqa: E402
from seggui.formats import coco, rasterize  # noqa: E402

SHARED = Path(os.environ.get("SEGGUI_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def label_images() -> list[tuple[str, np.ndarray]]:
    images = []
    for folder in sorted((SHARED / "cells" / "dsb2018").iterdir())[:6]:
        masks = sorted((folder / "masks").glob("*.png"))
        first = cv2.imread(str(masks[0]), cv2.IMREAD_GRAYSCALE)
        labels = np.zeros(first.shape, np.uint16)
        for index, path in enumerate(masks, 1):
            labels[cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0] = index
        images.append((folder.name[:8], labels))
    for folder in sorted((SHARED / "cells" / "usiigaci" / "train").iterdir())[:2]:
        images.append((folder.name, cv2.imread(str(folder / "instances_ids.png"), cv2.IMREAD_UNCHANGED)))
    return images


def measure(method: str, images) -> dict:
    dataset = Dataset([LabelClass(1, "cell", (255, 0, 0))],
                      [ImageAnnotation(f"{name}.png", labels.shape[0], labels.shape[1], labels,
                                       {int(i): 1 for i in np.unique(labels) if i}) for name, labels in images])
    original = rasterize.pixel_edge_polygons
    if method == "pixel centres (before)":
        rasterize.pixel_edge_polygons = lambda mask: rasterize.mask_polygons(mask, 0.5)
    try:
        start = time.perf_counter()
        document = coco.coco_document(dataset, polygons=True)
        seconds = time.perf_counter() - start
    finally:
        rasterize.pixel_edge_polygons = original
    api = COCO()
    api.dataset = document
    api.createIndex()
    differing = foreground = cells = border = 0
    ious = []
    for image_id, (_, labels) in enumerate(images, 1):
        for annotation in api.loadAnns(api.getAnnIds(imgIds=[image_id])):
            mask = api.annToMask(annotation).astype(bool)
            truth = labels == int(np.bincount(labels[mask]).argmax()) if mask.any() else np.zeros_like(mask)
            differing += int(np.count_nonzero(mask != truth))
            foreground += int(np.count_nonzero(truth))
            ious.append(np.count_nonzero(mask & truth) / max(1, np.count_nonzero(mask | truth)))
            cells += 1
            border += int(truth[0].any() or truth[-1].any() or truth[:, 0].any() or truth[:, -1].any())
    return {"benchmark": "polygon_exactness", "method": method, "images": len(images), "cells": cells,
            "cells_touching_border": border, "pixels_differing_percent": round(100 * differing / foreground, 3),
            "mean_iou": round(float(np.mean(ious)), 4), "min_iou": round(float(np.min(ious)), 4),
            "export_seconds": round(seconds, 2)}


def main() -> None:
    if not (SHARED / "cells" / "dsb2018").is_dir():
        print(json.dumps({"benchmark": "polygon_exactness", "skipped": f"no data at {SHARED}"}))
        return
    images = label_images()
    for method in ("pixel centres (before)", "pixel edges"):
        print(json.dumps(measure(method, images)), flush=True)


if __name__ == "__main__":
    main()
