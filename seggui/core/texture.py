"""Where an image is textured: the cue for phase-contrast cells. Qt-free, torch-free.

    textured_region(grey, free)  # -> boolean mask or None

Phase-contrast cells are neither brighter nor darker than the medium around them, only more
textured (their halo and inner granules), which the local standard deviation shows. Used by
the box tool (seggui.core.box_cell) and the add-cell click (seggui.core.assisted).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

# Chosen with the box tool on Usiigaci sets 2-5 and 40 DSB2018 stage-1 "extra" images (not the
# correction benchmark's): see seggui.core.box_cell.
TEXTURE_SIGMA = 3.0  # px: the scale of the local standard deviation
TEXTURE_LEVEL = 0.4  # of Otsu's threshold of that deviation: a cell's faint flat middle still counts
TEXTURE_CLOSING = 3  # iterations joining a cell's textured rim across small gaps
MIN_PIXELS = 12  # fewer unlabelled pixels than this tell nothing about the texture


def local_deviation(grey: np.ndarray, sigma: float = TEXTURE_SIGMA) -> np.ndarray:
    """The standard deviation of grey levels in a Gaussian neighbourhood of each pixel."""
    grey = np.asarray(grey, dtype=np.float32)
    mean = ndimage.gaussian_filter(grey, sigma)
    return np.sqrt(np.maximum(ndimage.gaussian_filter(grey * grey, sigma) - mean * mean, 0.0))


def textured_region(grey: np.ndarray, free: np.ndarray) -> np.ndarray | None:
    """Pixels whose local deviation is over a fraction of Otsu's threshold of the deviation
    of the `free` (unlabelled) pixels, closed across small gaps and filled; None where the
    free pixels are too few or flat."""
    deviation = local_deviation(grey)
    values = deviation[free]
    if values.size < MIN_PIXELS or float(values.max() - values.min()) <= 0:
        return None
    textured = deviation > TEXTURE_LEVEL * threshold_otsu(values)
    return ndimage.binary_fill_holes(ndimage.binary_closing(textured, iterations=TEXTURE_CLOSING))
