"""Benchmarks for annotation interchange; prints one JSON line per measurement.

    python benchmarks/formats.py

- coco_rle_export: COCO RLE export (the real `coco_document` path) of a 4096x4096 label
  image with 2,000 instances; target under 1 s.
- labelme_import: `read_labelme` on a folder of 500 LabelMe files with 50 polygons each;
  target under 10 s.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass  # noqa: E402
from seggui.formats.coco import coco_document  # noqa: E402
from seggui.formats.labelme import read_labelme  # noqa: E402


def label_image(size: int = 4096, count: int = 2000, seed: int = 0) -> np.ndarray:
    """`count` touching blobs: a Voronoi-like tiling from random seeds, ids 1..count."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    seeds = np.zeros((size, size), dtype=np.uint16)
    ys, xs = rng.integers(0, size, count), rng.integers(0, size, count)
    seeds[ys, xs] = np.arange(1, count + 1, dtype=np.uint16)
    _, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    labels = seeds[iy, ix]
    labels[rng.random((size, size)) < 0.02] = 0  # some background
    return labels


def bench_coco_rle() -> dict:
    labels = label_image()
    image = ImageAnnotation("big.png", labels.shape[0], labels.shape[1], labels,
                            {i: 1 for i in range(1, int(labels.max()) + 1)})
    dataset = Dataset([LabelClass(1, "cell", (255, 0, 0))], [image])
    start = time.perf_counter()
    document = coco_document(dataset)
    seconds = time.perf_counter() - start
    return {"benchmark": "coco_rle_export", "size": "4096x4096", "instances": len(document["annotations"]),
            "seconds": round(seconds, 3), "target_seconds": 1.0}


def bench_labelme_import(files: int = 500, polygons: int = 50) -> dict:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as folder:
        for index in range(files):
            shapes = []
            for _ in range(polygons):
                cx, cy = rng.uniform(20, 492, 2)
                angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
                radii = rng.uniform(5, 18, 12)
                points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
                shapes.append({"label": "cell", "points": points.tolist(), "group_id": None,
                               "shape_type": "polygon", "flags": {}})
            document = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": f"img{index}.png",
                        "imageData": None, "imageHeight": 512, "imageWidth": 512}
            Path(folder, f"img{index}.json").write_text(json.dumps(document))
        start = time.perf_counter()
        dataset = read_labelme(folder)
        seconds = time.perf_counter() - start
    return {"benchmark": "labelme_import", "files": files, "polygons_per_file": polygons,
            "instances": sum(dataset.report.instances_per_class.values()),
            "seconds": round(seconds, 3), "target_seconds": 10.0}


if __name__ == "__main__":
    print(json.dumps(bench_coco_rle()), flush=True)
    print(json.dumps(bench_labelme_import()), flush=True)
