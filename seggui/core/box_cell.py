"""A cell a person boxed: its mask from the model's map or from the image. Qt-free, torch-free.

    box_cell_mask(image, rect, labels, probability=None)  # -> (rect, mask) or None

Used by the `box_cell` tool (seggui.core.tools). A person draws a box around one cell, which
fills much of it: a candidate mask is believed when it covers a fair part of the box's
inscribed ellipse. The model's map is tried first, then the intensity threshold, which suits
fluorescence and stained nuclei; phase-contrast cells are neither brighter nor darker than
their surroundings, only more textured, which the local standard deviation shows, so where
the threshold finds only a fragment of the textured region the textured region is the cell.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from seggui.core.assisted import MIN_CELL, RELAXED_PEAK, grey_image, largest_component
from seggui.core.layers import Rect
from seggui.core.texture import textured_region

BOX_MARGIN = 8  # px of context around a box for GrabCut's background model
BOX_FULL = 0.9  # a "cell" filling more of its box than this is the background the box was drawn over
# Chosen on Usiigaci sets 2-5 and 40 DSB2018 stage-1 "extra" images (not the correction
# benchmark's): a cell boxed by its bounding box is found (IoU >= 0.5) 72 % / 93 % / 90 % of the
# time on phase contrast / fluorescence / stained, against 0 % / 91 % / 88 % by the threshold
# alone; with a box 30 % larger each side 18 % / 81 % / 68 % (0 % / 82 % / 69 %). The texture
# levels are seggui.core.texture's.
ELLIPSE_REACH = 1.2  # the texture mask is kept within the box's inscribed ellipse grown this much (squared radius)
BELIEVED = 0.3  # a candidate's overlap (IoU) with the inscribed ellipse that makes it the cell
FRAGMENT = 0.2  # a threshold mask covering less of the textured region than this is a fragment of it


def box_cell_mask(image: np.ndarray, rect: Rect, labels: np.ndarray,
                  probability: np.ndarray | None = None) -> tuple[Rect, np.ndarray] | None:
    """The mask of the cell a person boxed: (rect, boolean mask over rect) or None.

    In order: with a model's foreground `probability`, the largest region inside the box at a
    relaxed threshold (RELAXED_PEAK of the box's peak), when it covers a fair part of the
    box (a map of another modality holds scattered blobs); Otsu's threshold of the box and its
    surroundings, the cell being the class that is the minority around it, unless it is only a
    fragment of the textured region (local standard deviation), which is then taken; where
    neither finds anything, OpenCV's GrabCut initialised with the box. A box drawn over
    background (the "cell" would fill it) adds nothing. Only unlabelled pixels are taken;
    holes are filled.
    """
    height, width = labels.shape
    y0, x0, y1, x1 = (max(0, int(rect[0])), max(0, int(rect[1])), min(height, int(rect[2])), min(width, int(rect[3])))
    if y1 - y0 < 3 or x1 - x0 < 3:
        return None
    free = labels[y0:y1, x0:x1] == 0
    if free.sum() < MIN_CELL:
        return None
    image = np.asarray(image)
    if image.shape[:2] != labels.shape:
        raise ValueError(f"image shape {image.shape[:2]} differs from label shape {labels.shape}")
    box = (y0, x0, y1, x1)
    ellipse = inscribed_ellipse(y1 - y0, x1 - x0)
    mask = None
    if probability is not None:
        window = np.asarray(probability, dtype=np.float32)[y0:y1, x0:x1]
        peak = float(window.max()) if window.size else 0.0
        if peak >= 0.1:
            mask = _usable(largest_component((window >= RELAXED_PEAK * peak) & free), free)
            if mask is not None and _overlap(mask, ellipse) < BELIEVED:
                mask = None
    if mask is None:
        threshold = _usable(_threshold_in_box(image, labels, box), free)
        texture = _usable(_texture_in_box(image, labels, box), free)
        mask = threshold if texture is None else texture
        if threshold is not None and texture is not None and (
                _overlap(threshold, ellipse) >= BELIEVED or (threshold & texture).sum() >= FRAGMENT * texture.sum()):
            mask = threshold  # its edge sits on the cell's edge; the textured region's is a blur wider
    if mask is None:
        context = (max(0, y0 - BOX_MARGIN), max(0, x0 - BOX_MARGIN), min(height, y1 + BOX_MARGIN),
                   min(width, x1 + BOX_MARGIN))
        mask = _grabcut_in_box(image, box, context)
        mask = None if mask is None else largest_component(mask & free)
    if mask is None or mask.sum() < MIN_CELL:
        return None
    mask = ndimage.binary_fill_holes(mask) & free
    rows, cols = np.nonzero(mask)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    return (y0 + r0, x0 + c0, y0 + r1, x0 + c1), mask[r0:r1, c0:c1]


def inscribed_ellipse(height: int, width: int, reach: float = 1.0) -> np.ndarray:
    """The ellipse touching the sides of a height x width box (`reach` > 1 grows it)."""
    rows, cols = np.mgrid[:height, :width]
    return ((rows + 0.5 - height / 2) / (height / 2)) ** 2 + ((cols + 0.5 - width / 2) / (width / 2)) ** 2 <= reach


def _usable(mask: np.ndarray | None, free: np.ndarray) -> np.ndarray | None:
    mask = None if mask is None else mask & free
    return mask if mask is not None and int(mask.sum()) >= MIN_CELL else None


def _overlap(mask: np.ndarray, ellipse: np.ndarray) -> float:
    union = int((mask | ellipse).sum())
    return int((mask & ellipse).sum()) / union if union else 0.0


def _surroundings(labels: np.ndarray, box: Rect) -> Rect:
    """The box grown by its own size each side (at least BOX_MARGIN): mostly background."""
    y0, x0, y1, x1 = box
    height, width = labels.shape
    reach_y, reach_x = max(BOX_MARGIN, y1 - y0), max(BOX_MARGIN, x1 - x0)
    return max(0, y0 - reach_y), max(0, x0 - reach_x), min(height, y1 + reach_y), min(width, x1 + reach_x)


def _threshold_in_box(image: np.ndarray, labels: np.ndarray, box: Rect) -> np.ndarray | None:
    """Otsu over the box's surroundings (unlabelled pixels); the cell is whichever class (bright
    or dark) is the minority there, since background is most of any neighbourhood. A mask over
    the box, or None: also when the cell class fills nearly the whole box, which is a box drawn
    over background, not around a cell."""
    y0, x0, y1, x1 = box
    cy0, cx0, cy1, cx1 = _surroundings(labels, box)
    grey = ndimage.gaussian_filter(grey_image(image[cy0:cy1, cx0:cx1]), 0.7)
    free = labels[cy0:cy1, cx0:cx1] == 0
    values = grey[free]
    if values.size < 2 * MIN_CELL or float(values.max() - values.min()) <= 0:
        return None
    inside = np.zeros(grey.shape, bool)
    inside[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = True
    bright = grey > threshold_otsu(values)
    cell = bright if float(bright[free].mean()) <= 0.5 else ~bright
    found = largest_component(cell & free & inside)
    if found is None:
        return None
    found = found[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    return None if found.mean() > BOX_FULL else found


def _texture_in_box(image: np.ndarray, labels: np.ndarray, box: Rect) -> np.ndarray | None:
    """The textured region in the box: local standard deviation over a fraction of Otsu's
    threshold of the surroundings' deviation, closed and filled, within the box's grown
    inscribed ellipse (a neighbour's texture in the box's corners stays out)."""
    y0, x0, y1, x1 = box
    cy0, cx0, cy1, cx1 = _surroundings(labels, box)
    free = labels[cy0:cy1, cx0:cx1] == 0
    textured = textured_region(grey_image(image[cy0:cy1, cx0:cx1]), free)
    if textured is None:
        return None
    inside = textured[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] & free[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    found = largest_component(inside & inscribed_ellipse(y1 - y0, x1 - x0, ELLIPSE_REACH))
    if found is None:
        return None
    found = ndimage.binary_fill_holes(found)
    return None if found.mean() > BOX_FULL else found


def _grabcut_in_box(image: np.ndarray, box: Rect, context: Rect) -> np.ndarray | None:
    """GrabCut's foreground inside the box (the margin teaches it the background)."""
    import cv2

    y0, x0, y1, x1 = box
    cy0, cx0, cy1, cx1 = context
    grey = grey_image(image[cy0:cy1, cx0:cx1])
    low, high = np.percentile(grey, [1, 99])
    scaled = np.clip((grey - low) / max(1e-6, high - low) * 255, 0, 255).astype(np.uint8)
    cut = np.zeros(grey.shape, np.uint8)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(scaled, cv2.COLOR_GRAY2BGR), cut, (x0 - cx0, y0 - cy0, x1 - x0, y1 - y0),
                    background, foreground, 3, cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        return None
    found = np.isin(cut, (cv2.GC_FGD, cv2.GC_PR_FGD))[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    return found if found.any() and found.mean() <= BOX_FULL else None
