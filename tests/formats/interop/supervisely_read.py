"""Read seggui's Supervisely export with the Supervisely SDK itself and print per-cell IoU.

Usage: python supervisely_read.py PROJECT TRUTH.npz MIN_PIXELS
The project is opened with sly.Project; each image's annotation is loaded with the project's
meta and every label is drawn by its own geometry (Bitmap or Polygon.draw), in order.
"""

import sys
from pathlib import Path

import numpy as np
import supervisely as sly

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cell_stats import cell_ious, report  # noqa: E402

folder, truth_path, min_pixels = sys.argv[1], sys.argv[2], int(sys.argv[3])
truth = dict(np.load(truth_path))
project = sly.Project(folder, sly.OpenMode.READ)
results = {}
for dataset in project.datasets:
    for item in dataset:
        annotation = sly.Annotation.load_json_file(dataset.get_ann_path(item), project.meta)
        stem = Path(item).stem
        drawn = np.zeros(annotation.img_size, np.int32)
        for number, label in enumerate(annotation.labels, 1):
            label.geometry.draw(drawn, color=number)
        results[stem] = cell_ious(truth[stem], drawn, min_pixels)
missing = sorted(set(truth) - set(results))
if missing:
    sys.exit(f"no Supervisely annotation for {missing}")
print(report(results))
