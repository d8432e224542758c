"""Training targets from instance label images: three classes and distance to boundary.

Classes: 0 background, 1 cell interior, 2 cell boundary (the instance's own edge pixels,
so two touching cells are always separated by a boundary band). The distance target is
each pixel's distance to its instance's edge divided by that instance's largest distance,
so small and large nuclei both peak at 1 in their centre.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2
IGNORE = 255  # class target of ignore regions (labelme's __ignore__): left out of the loss


def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Pixels of an instance that touch background or another instance (4-neighbourhood)."""
    padded = np.pad(labels, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    edge = np.zeros(labels.shape, dtype=bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        edge |= padded[dy : dy + labels.shape[0], dx : dx + labels.shape[1]] != centre
    return edge & (labels > 0)


def three_class_target(labels: np.ndarray) -> np.ndarray:
    """uint8 map of background / interior / boundary from an instance label image."""
    target = np.zeros(labels.shape, dtype=np.uint8)
    target[labels > 0] = INTERIOR
    target[boundary_mask(labels)] = BOUNDARY
    return target


def distance_target(labels: np.ndarray) -> np.ndarray:
    """float32 distance to the instance edge, normalised to 1 at each instance's centre."""
    out = np.zeros(labels.shape, dtype=np.float32)
    objects = ndimage.find_objects(labels)
    for index, box in enumerate(objects, start=1):
        if box is None:
            continue
        # Pad the crop so that instances touching the crop edge still get a boundary there.
        sub = np.pad(labels[box] == index, 1)
        dist = ndimage.distance_transform_edt(sub)[1:-1, 1:-1]
        peak = dist.max()
        if peak > 0:
            region = labels[box] == index
            out[box][region] = (dist[region] / peak).astype(np.float32)
    return out


def semantic_target(class_map: np.ndarray) -> np.ndarray:
    """Plain semantic classes are used as they are (uint8 class ids, 0 = background)."""
    return class_map.astype(np.uint8, copy=False)
