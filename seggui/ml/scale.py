"""Cell size and input scale: a U-Net sees cells well only near the size it learnt them at.

Usiigaci's whole cells are about 65 px across, DSB2018's nuclei about 20: shown at their
own size, the nuclei model sees only parts of a cell in its receptive field. A model card
may carry `scale`:

    "scale": {"cell_diameter": 20.0, "input_scale": 0.31}

`cell_diameter` is the median cell diameter (pixels, in the network's input) the model was
trained at; `input_scale` is the factor images are resized by before the network (and the
maps back after). Fine-tuning measures the person's cells, sets `input_scale` so they reach
the base model's `cell_diameter`, and trains on images resized the same way.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# The bundled nuclei model was trained at DSB2018's own scale: the median over its training
# images of each image's median nucleus diameter (scripts: benchmarks/bundle_nuclei.py).
DEFAULT_CELL_DIAMETER = 20.0
# Factors this close to 1 are left alone: the training zoom augmentation covers them.
NEUTRAL_RANGE = (0.8, 1.25)
SCALE_LIMITS = (0.2, 4.0)


def equivalent_diameters(labels: np.ndarray) -> np.ndarray:
    """Diameter of the disc with each instance's area, for every instance in `labels`."""
    values = labels[labels > 0]
    if not values.size:
        return np.zeros(0)
    _, areas = np.unique(values, return_counts=True)
    return 2.0 * np.sqrt(areas / math.pi)


def median_cell_diameter(label_images: list[np.ndarray]) -> float | None:
    """Median over images of each image's median cell diameter (None without cells).

    Per image first, so one crowded image does not outvote the others."""
    medians = [float(np.median(d)) for d in map(equivalent_diameters, label_images) if d.size]
    return float(np.median(medians)) if medians else None


def input_scale_for(model_diameter: float, cell_diameter: float | None) -> float:
    """The resize factor that brings cells of `cell_diameter` to the model's size."""
    if not cell_diameter or cell_diameter <= 0 or not model_diameter or model_diameter <= 0:
        return 1.0
    factor = min(max(model_diameter / cell_diameter, SCALE_LIMITS[0]), SCALE_LIMITS[1])
    if NEUTRAL_RANGE[0] <= factor <= NEUTRAL_RANGE[1]:
        return 1.0
    return round(factor, 4)


def card_scale(card: dict) -> tuple[float, float]:
    """(cell_diameter, input_scale) of a card; older cards mean DSB2018's size, no resize."""
    scale = card.get("scale") or {}
    diameter = float(scale.get("cell_diameter", DEFAULT_CELL_DIAMETER))
    factor = float(scale.get("input_scale", 1.0))
    return diameter, factor


def scaled_shape(shape: tuple[int, int], factor: float) -> tuple[int, int]:
    return max(1, int(round(shape[0] * factor))), max(1, int(round(shape[1] * factor)))


def resize_image(array: np.ndarray, factor: float, shape: tuple[int, int] | None = None) -> np.ndarray:
    """An (H, W) or (H, W, C) image resized by `factor` (or to `shape`): area averaging when
    shrinking (no aliasing of fine texture), bilinear when enlarging; dtype kept."""
    height, width = shape or scaled_shape(array.shape[:2], factor)
    if (height, width) == array.shape[:2]:
        return array
    dtype = array.dtype
    work = array.astype(np.float32) if dtype.kind not in "f" or dtype == np.float16 else array
    shrinking = height * width < array.shape[0] * array.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    if work.ndim == 3 and work.shape[2] > 4:  # OpenCV resizes at most 4 channels at once
        planes = [cv2.resize(work[..., c], (width, height), interpolation=interpolation)
                  for c in range(work.shape[2])]
        resized = np.stack(planes, axis=-1)
    else:
        resized = cv2.resize(work, (width, height), interpolation=interpolation)
        if work.ndim == 3 and resized.ndim == 2:
            resized = resized[..., None]
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        resized = np.clip(np.rint(resized), info.min, info.max)
    return resized.astype(dtype, copy=False)


def resize_labels(labels: np.ndarray, factor: float, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Nearest-neighbour resize of a label image (ids are never blended), any integer dtype."""
    height, width = shape or scaled_shape(labels.shape[:2], factor)
    if (height, width) == labels.shape[:2]:
        return labels
    rows = np.minimum(((np.arange(height) + 0.5) * labels.shape[0] / height).astype(np.intp), labels.shape[0] - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * labels.shape[1] / width).astype(np.intp), labels.shape[1] - 1)
    return labels[rows[:, None], cols[None, :]]
