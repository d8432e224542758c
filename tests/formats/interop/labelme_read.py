"""Read seggui's LabelMe JSON export with labelme 7.x itself and print per-cell IoU.

Usage: python labelme_read.py FOLDER TRUTH.npz MIN_PIXELS
Each JSON is opened with labelme's read_label_file (which also loads the image imagePath
names and checks its size) and drawn with labelme's shapes_to_label.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cell_stats import cell_ious, report  # noqa: E402

try:  # labelme >= 7.x keeps these in private modules
    from labelme._label_file import read_label_file
    from labelme._utils import shapes_to_label
except ImportError:  # labelme 5.x: LabelFile and utils.shapes_to_label
    from labelme.label_file import LabelFile
    from labelme.utils import shapes_to_label as _shapes_to_label

    class _Annotation:
        def __init__(self, filename):
            self.shapes = LabelFile(filename).shapes

    def read_label_file(*, filename):
        return _Annotation(filename)

    def shapes_to_label(*, img_shape, shapes, label_name_to_value):
        return _shapes_to_label(img_shape, shapes, label_name_to_value)

folder, truth_path, min_pixels = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
truth = dict(np.load(truth_path))
results = {}
for path in sorted(folder.glob("*.json")):
    labels = truth[path.stem]
    annotation = read_label_file(filename=str(path))
    names = {shape["label"] for shape in annotation.shapes}
    _, drawn = shapes_to_label(img_shape=labels.shape, shapes=annotation.shapes,
                               label_name_to_value={name: i for i, name in enumerate(sorted(names), 1)})
    results[path.stem] = cell_ious(labels, drawn, min_pixels)
missing = sorted(set(truth) - set(results))
if missing:
    sys.exit(f"no LabelMe file for {missing}")
print(report(results))
