"""Read a seggui export with datumaro (CVAT for images 1.1 or COCO instances) and print per-cell IoU.

Usage: python datumaro_read.py FORMAT PATH TRUTH.npz MIN_PIXELS
FORMAT is a datumaro importer name ("cvat", "coco_instances"). datumaro's own
merge_instance_segments transform joins each instance's grouped polygons and masks into one
mask (polygons rasterised with pycocotools, as datumaro does); masks are painted in file order.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cell_stats import cell_ious, report  # noqa: E402

from datumaro.components.annotation import AnnotationType  # noqa: E402
from datumaro.components.dataset import Dataset  # noqa: E402

fmt, path, truth_path, min_pixels = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
truth = dict(np.load(truth_path))
dataset = Dataset.import_from(path, fmt).transform("merge_instance_segments", include_polygons=True)
results = {}
for item in dataset:
    key = Path(item.id).name
    if key not in truth:
        continue
    labels = truth[key]
    drawn = np.zeros(labels.shape, np.int32)
    masks = [a for a in item.annotations if a.type == AnnotationType.mask]
    for number, annotation in enumerate(masks, 1):
        drawn[annotation.image.astype(bool)] = number
    results[key] = cell_ious(labels, drawn, min_pixels)
missing = sorted(set(truth) - set(results))
if missing:
    sys.exit(f"datumaro found no item for {missing}")
print(report(results))
