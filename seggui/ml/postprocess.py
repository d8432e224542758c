"""Network outputs -> instance label images (seeded watershed) or semantic class maps."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import relabel_sequential as skimage_relabel_sequential
from skimage.segmentation import watershed

from seggui.core.annotation import label_dtype_for


@dataclass
class InstanceParams:
    """Thresholds for turning class probabilities into instances.

    The bundled model's card stores the values chosen on its validation images.
    """

    foreground_threshold: float = 0.5  # 1 - P(background) above this is cell
    seed_threshold: float = 0.5  # distance (or interior probability) above this seeds a cell
    min_size: int = 12  # pixels; smaller instances are noise
    min_seed_size: int = 3

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "InstanceParams":
        data = data or {}
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def relabel_sequential(labels: np.ndarray) -> np.ndarray:
    """Ids 1..N with no gaps (in the order of the old ids), in the smallest lossless dtype."""
    if not labels.size:  # skimage's version cannot take an empty array
        return labels.astype(label_dtype_for(0))
    relabelled, _, _ = skimage_relabel_sequential(labels)
    return relabelled.astype(label_dtype_for(int(relabelled.max())))


def drop_small_instances(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Zero, in place, every instance of fewer than `min_size` pixels (ids are not renumbered).

    skimage.morphology.remove_small_objects does this too, but its size argument changed
    meaning in scikit-image 0.26 (min_size, strictly smaller, became max_size, smaller or
    equal) and seggui supports versions on both sides of that change."""
    if min_size > 1 and labels.size and labels.max():
        small = np.bincount(labels.ravel()) < min_size
        small[0] = False
        if small.any():
            labels[small[labels]] = 0
    return labels


def instances_from_outputs(
    probabilities: np.ndarray,
    distance: np.ndarray | None,
    params: InstanceParams | None = None,
) -> np.ndarray:
    """Seeded watershed from (3, H, W) class probabilities and an optional distance map.

    Seeds are connected regions of high distance-to-boundary (or of confident interior
    when there is no distance head); each grows over the foreground down the distance (or
    interior) landscape, so touching cells split along their valley.
    """
    params = params or InstanceParams()
    foreground = (1.0 - probabilities[0]) > params.foreground_threshold
    landscape = distance if distance is not None else probabilities[1]
    seeds = (landscape > params.seed_threshold) & foreground
    markers, count = ndimage.label(seeds)
    if count == 0:
        return np.zeros(foreground.shape, dtype=np.uint16)
    drop_small_instances(markers, params.min_seed_size)
    labels = watershed(-landscape, markers, mask=foreground)
    drop_small_instances(labels, params.min_size)
    return relabel_sequential(labels)


def instance_scores(labels: np.ndarray, foreground_probability: np.ndarray) -> dict[int, float]:
    """Mean foreground probability of each instance: a confidence score per cell."""
    if labels.max() == 0:
        return {}
    index = np.arange(1, int(labels.max()) + 1)
    means = ndimage.mean(foreground_probability, labels=labels, index=index)
    return {int(i): float(m) for i, m in zip(index, np.atleast_1d(means))}


def semantic_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Argmax class per pixel (uint8 while classes fit, else uint16)."""
    dtype = np.uint8 if probabilities.shape[0] <= 256 else np.uint16
    return probabilities.argmax(axis=0).astype(dtype)


def instances_from_semantic(classes: np.ndarray) -> np.ndarray:
    """Connected components of every non-background class, numbered together."""
    labels = np.zeros(classes.shape, dtype=np.int64)
    next_id = 0
    for value in np.unique(classes):
        if value == 0:
            continue
        components, count = ndimage.label(classes == value)
        labels[components > 0] = components[components > 0] + next_id
        next_id += count
    return labels.astype(label_dtype_for(next_id))
