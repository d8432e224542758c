"""Shared helpers for the format tests."""

from __future__ import annotations

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def named_instances(dataset, image) -> list[tuple[str, np.ndarray]]:
    names = {c.id: c.name for c in dataset.classes}
    return [(names[image.instance_classes[i]], image.labels == i) for i in sorted(image.instance_classes)]
