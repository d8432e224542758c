"""Assisted edits: add a cell at a click, and what the other assisted tools share with it
(grey levels, cell-like pixels, a watershed from seeds). Qt-free, torch-free.

    add_cell_mask(image, x, y, labels, probability=None)  # -> (rect, mask) or None

(splitting a cell: seggui.core.split_cell; a box around a cell: seggui.core.box_cell; texture:
seggui.core.texture). They are used by the `add_cell`, `split` and `box_cell` tools of
`seggui.core.tools` and work on a window around the click, the cell or the box, so their cost
follows the cell, not the image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.measure import label as label_regions
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from seggui.core.layers import Rect
from seggui.core.texture import textured_region

ADD_WINDOW = 32  # half-size of the first window around a click (grown up to ADD_MAX_WINDOW)
ADD_MAX_WINDOW = 128
MIN_CELL = 6  # pixels; smaller results are refused
PEAK_DEPTH = 1.5  # px of distance a neck must dip for one click to find two parts
# The model's map is cut at this fraction of its local peak when a person points at a cell the
# model did not propose: it saw such cells faintly, and the cell's outline lies far down the
# map's slope. Chosen on dsb2018-extra images 100-219 by stem (not the correction benchmark's):
# a click on a missed cell matches it (IoU >= 0.5) 82 times in 210 at 0.15, 65 at 0.5 (the
# previous rule), 80 at 0.1; a box around it 127 / 120 times. Usiigaci sets 2-5: unchanged.
RELAXED_PEAK = 0.15


def split_mask(mask: np.ndarray, seeds: list[tuple[int, int]], image: np.ndarray | None = None) -> np.ndarray:
    """Parts 1..len(seeds) of a boolean mask, grown from the (row, column) seeds within it.
    Pixels that no seed reaches (another connected piece) go to part 1; seeds outside the
    mask are ignored (their part is empty).

    The landscape is the mask's distance transform (parts meet at its necks) plus, with the
    `image` under the mask, its smoothed intensity taken with the cells' polarity (touching
    nuclei are usually parted by a dimmer valley). A click is rarely at its part's summit:
    grown from single pixels, the highest seed would flood its neighbours' parts. So each
    seed starts from the top quarter of the landscape in its own nearest-seed region."""
    distance = ndimage.distance_transform_edt(mask)
    landscape = distance / max(1.0, float(distance.max()))
    if image is not None:
        grey = ndimage.gaussian_filter(grey_image(image), 1.0)
        inside = grey[mask]
        ring = ndimage.binary_dilation(mask, iterations=2) & ~mask
        if inside.size and float(inside.max() - inside.min()) > 0:
            brighter = not ring.any() or float(np.median(inside)) >= float(np.median(grey[ring]))
            low, high = np.percentile(inside, [2, 98])
            level = np.clip((grey - low) / max(1e-6, high - low), 0.0, 1.0)
            landscape = landscape + (level if brighter else 1.0 - level)
    valid = [(index, (row, col)) for index, (row, col) in enumerate(seeds, start=1)
             if 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and mask[row, col]]
    markers = np.zeros(mask.shape, np.int32)
    if valid:
        # Each pixel's nearest seed from one distance transform (its cost follows the mask, not
        # the mask times the seeds: a large textured region can hold dozens of peaks).
        points = np.ones(mask.shape, bool)
        order_at = np.zeros(mask.shape, np.int32)
        for order, (_, (row, col)) in enumerate(valid):
            points[row, col] = False
            order_at[row, col] = order + 1
        _, (near_rows, near_cols) = ndimage.distance_transform_edt(points, return_indices=True)
        regions = np.where(mask, order_at[near_rows, near_cols], 0)
        count = len(valid)
        top = np.asarray(ndimage.maximum(landscape, regions, np.arange(1, count + 1)), dtype=np.float64)
        bottom = np.asarray(ndimage.minimum(landscape, regions, np.arange(1, count + 1)), dtype=np.float64)
        level = np.concatenate([[np.inf], top - 0.25 * (top - bottom)])
        core = (regions > 0) & (landscape >= level[regions])
        pieces = label_regions(np.where(core, regions, 0), background=0, connectivity=1)
        sizes = np.bincount(pieces.ravel())
        chosen = np.zeros(len(sizes), np.int32)  # piece -> the seed index it starts
        for order, (index, (row, col)) in enumerate(valid):
            piece = pieces[row, col]
            if not piece:  # the click is below its region's top quarter: that quarter's largest piece
                own = np.unique(pieces[(regions == order + 1) & (pieces > 0)])
                piece = int(own[np.argmax(sizes[own])]) if own.size else 0
            if piece:
                chosen[piece] = index
        markers = chosen[pieces]
        for index, (row, col) in valid:
            markers[row, col] = index
    parts = watershed(-landscape, markers, mask=mask)
    parts[mask & (parts == 0)] = 1
    return parts


def automatic_seeds(mask: np.ndarray) -> list[tuple[int, int]]:
    """(row, column) of each distance-transform peak deeper than PEAK_DEPTH: the parts one
    click (and Enter) splits a cell into."""
    distance = ndimage.distance_transform_edt(mask)
    peaks, count = ndimage.label(h_maxima(distance, PEAK_DEPTH) & mask)
    if count < 2:
        return []
    centres = ndimage.maximum_position(distance, peaks, range(1, count + 1))
    return [(int(r), int(c)) for r, c in centres]


TRIM_MARGIN = 4  # px of unlabelled surroundings that tell a cell's background level
TRIM_CONTRAST = 4.0  # cell and background levels must differ by this many noise widths


def cell_like(grey: np.ndarray, background: np.ndarray, seeds: list[tuple[int, int]]) -> np.ndarray | None:
    """Pixels closer in (smoothed) intensity to the cells at the seeds than to the
    `background` pixels, or None where the two levels do not differ clearly (against the
    background's own noise), so that nothing is trimmed on a low-contrast image."""
    levels = cell_levels(ndimage.gaussian_filter(grey, 1.0), background, seeds)
    if levels is None:
        return None
    smooth, middle, brighter, _ = levels
    return smooth >= middle if brighter else smooth <= middle


def level_and_noise(values: np.ndarray) -> tuple[float, float]:
    """The median of grey levels and their noise width (1.4826 x the median absolute
    deviation: the standard deviation for Gaussian noise, untouched by a few outliers)."""
    level = float(np.median(values))
    return level, 1.4826 * float(np.median(np.abs(values - level))) + 1e-6


def cell_levels(smooth: np.ndarray, background: np.ndarray, seeds: list[tuple[int, int]]):
    """(smooth, the level halfway between the cells at the seeds and the background, cells
    brighter?, background noise), or None where the two levels do not differ clearly."""
    if int(background.sum()) < 2 * MIN_CELL:
        return None
    level_back, noise = level_and_noise(smooth[background])
    levels = [float(np.median(smooth[max(0, r - 2) : r + 3, max(0, c - 2) : c + 3])) for r, c in seeds]
    if not levels:
        return None
    level_cell = float(np.median(levels))
    if abs(level_cell - level_back) < TRIM_CONTRAST * noise:
        return None
    return smooth, 0.5 * (level_cell + level_back), level_cell > level_back, noise


def _window(shape: tuple[int, int], x: int, y: int, half: int) -> Rect:
    height, width = shape
    return max(0, y - half), max(0, x - half), min(height, y + half + 1), min(width, x + half + 1)


def grey_image(image: np.ndarray) -> np.ndarray:
    """float32 grey levels of an image (the mean of its first three channels when it has them).
    Pixels that are not numbers (a float TIFF's NaN where nothing was imaged, or inf) take the
    lowest level there is, so that thresholds and filters see only finite values."""
    array = np.asarray(image)
    floating = array.dtype.kind == "f"  # only floats hold NaN or inf
    if array.ndim == 3:
        channels = array[..., :3] if array.shape[2] >= 3 else array
        array = channels.astype(np.float32).mean(axis=2)
    array = array.astype(np.float32)
    if floating:
        finite = np.isfinite(array)
        if not finite.all():
            array = np.where(finite, array, float(array[finite].min()) if finite.any() else 0.0).astype(np.float32)
    return array


def component_at(foreground: np.ndarray, row: int, col: int, reach: int = 3) -> np.ndarray | None:
    """The connected component of `foreground` at (row, col), or the nearest one within reach."""
    components, count = ndimage.label(foreground)
    if count == 0:
        return None
    label = int(components[row, col])
    if label == 0:
        r0, c0 = max(0, row - reach), max(0, col - reach)
        near = components[r0 : row + reach + 1, c0 : col + reach + 1]
        if not near.any():
            return None
        rows, cols = np.nonzero(near)
        nearest = np.argmin((rows + r0 - row) ** 2 + (cols + c0 - col) ** 2)
        label = int(near[rows[nearest], cols[nearest]])
    return components == label


def _cut_to_image(component: np.ndarray, grey: np.ndarray, free: np.ndarray, row: int, col: int) -> np.ndarray:
    """A region of the model's map cut to the pixels that look like the clicked cell rather
    than the unlabelled background around the region (cell_like); the region unchanged where
    the image shows no clear contrast or the click itself is not cell-like. (Where a model
    is unsure, as on stained tissue, its map spreads over the background between cells.)"""
    background = free & ~component & ndimage.binary_dilation(component, iterations=TRIM_MARGIN)
    like = cell_like(grey, background, [(row, col)])
    if like is None:
        return component
    kept = ndimage.binary_opening(component & like, iterations=1)
    if not kept[row, col]:
        return component
    piece = component_at(kept, row, col)
    if piece is None or int(piece.sum()) < MIN_CELL:
        return component
    return ndimage.binary_fill_holes(piece) & free


def _own_part(component: np.ndarray, row: int, col: int) -> np.ndarray:
    """Of a component that may hold several touching cells, the one around (row, col):
    a watershed of its distance transform from its peaks deeper than PEAK_DEPTH."""
    seeds = automatic_seeds(component)
    if len(seeds) < 2:
        return component
    parts = split_mask(component, seeds)
    if component[row, col]:
        chosen = parts[row, col]
    else:
        rows, cols = np.nonzero(component)
        nearest = np.argmin((rows - row) ** 2 + (cols - col) ** 2)
        chosen = parts[rows[nearest], cols[nearest]]
    return parts == chosen


def _cell_in_window(grey: np.ndarray, free: np.ndarray, row: int, col: int,
                    probability: np.ndarray | None) -> np.ndarray | None:
    if probability is not None:
        peak = float(probability[max(0, row - 2) : row + 3, max(0, col - 2) : col + 3].max())
        if peak >= 0.1:
            foreground = (probability >= RELAXED_PEAK * peak) & free
            component = component_at(foreground, row, col)
            if component is not None and component.sum() >= MIN_CELL:
                return _cut_to_image(component, grey, free, row, col)
    values = grey[free]
    if values.size < 2 * MIN_CELL or float(values.max() - values.min()) <= 0:
        return None
    local = grey.copy()
    # Polarity from the click: a cell darker than its surroundings is inverted to bright.
    clicked = float(np.median(grey[max(0, row - 1) : row + 2, max(0, col - 1) : col + 2]))
    if clicked < float(np.median(values)):
        local = -local
    local = ndimage.gaussian_filter(local, 1.0)
    threshold = threshold_otsu(local[free])
    foreground = ndimage.binary_opening((local > threshold) & free, iterations=1)
    component = component_at(foreground, row, col)
    if component is None:
        return None
    return ndimage.binary_fill_holes(component) & free


def add_cell_mask(image: np.ndarray, x: float, y: float, labels: np.ndarray,
                  probability: np.ndarray | None = None) -> tuple[Rect, np.ndarray] | None:
    """The mask of a new cell at the click (x, y): (rect, boolean mask over rect) or None.

    Where the click is on a textured region no brighter or darker than its surroundings (a
    phase-contrast cell, on which a nuclei model's map finds only pieces; seggui.core.texture),
    that region. Otherwise, with a model's foreground `probability` map (image-sized, 0..1):
    its connected region around the click at a relaxed threshold (RELAXED_PEAK of the local
    peak); without one (or where the map is near 0): Otsu's threshold of the smoothed image in a
    window around the click, polarity taken from the clicked pixels; the window grows (32 to
    128 px each side) while the cell reaches its edge. Either way only unlabelled pixels
    (labels == 0) are used and touching cells are split at their distance-transform neck.
    """
    height, width = labels.shape
    col, row = int(np.floor(x)), int(np.floor(y))
    if not (0 <= col < width and 0 <= row < height) or labels[row, col]:
        return None
    image = np.asarray(image)
    if image.shape[:2] != labels.shape:
        raise ValueError(f"image shape {image.shape[:2]} differs from label shape {labels.shape}")
    found = _textured_at(image, labels, row, col)
    if found is None:
        found = _region_at(image, labels, row, col, probability)
        if found is None:
            return None
        found = found[0], _own_part(found[1], row - found[0][0], col - found[0][1])
    (y0, x0, _, _), mask = found
    if int(mask.sum()) < MIN_CELL:
        return None
    rows, cols = np.nonzero(mask)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    return (y0 + r0, x0 + c0, y0 + r1, x0 + c1), mask[r0:r1, c0:c1]


TEXTURE_FULL = 0.5  # a textured region filling more of its window than this is textured background


def _region_at(image: np.ndarray, labels: np.ndarray, row: int, col: int,
               probability: np.ndarray | None) -> tuple[Rect, np.ndarray] | None:
    """The model's (or the threshold's) region at the click in a window grown while the
    region reaches its edge: (window rect, mask over the window) or None."""
    height, width = labels.shape
    half = ADD_WINDOW
    while True:
        rect = _window(labels.shape, col, row, half)
        y0, x0, y1, x1 = rect
        free = labels[y0:y1, x0:x1] == 0
        window_probability = None if probability is None else np.asarray(probability)[y0:y1, x0:x1]
        # Only the window is made grey: its cost follows the cell, not the image.
        mask = _cell_in_window(grey_image(image[y0:y1, x0:x1]), free, row - y0, col - x0, window_probability)
        if mask is None:
            return None
        touches = ((mask[0].any() and y0 > 0) or (mask[-1].any() and y1 < height)
                   or (mask[:, 0].any() and x0 > 0) or (mask[:, -1].any() and x1 < width))
        if not touches or half >= ADD_MAX_WINDOW:
            return rect, mask
        half *= 2


def _textured_at(image: np.ndarray, labels: np.ndarray, row: int, col: int) -> tuple[Rect, np.ndarray] | None:
    """The flat textured cell at the click in the largest window, (rect, mask over it) or
    None: also when the click is not on a textured region, the region fills much of the
    window (textured background), or it is brighter or darker than its surroundings (then
    the intensity or the model's map tells the cell better)."""
    if _clearly_contrasted(image, labels, row, col):
        return None
    rect = _window(labels.shape, col, row, ADD_MAX_WINDOW)
    y0, x0, y1, x1 = rect
    free = labels[y0:y1, x0:x1] == 0
    grey = grey_image(image[y0:y1, x0:x1])
    textured = textured_region(grey, free)
    if textured is None or not textured[row - y0, col - x0]:
        return None
    components, _ = ndimage.label(textured & free)
    mask = components == components[row - y0, col - x0]
    if int(mask.sum()) < MIN_CELL or mask.mean() > TEXTURE_FULL:
        return None
    contrast, dark_share = _ring_contrast(grey, mask, free, row - y0, col - x0)
    if contrast >= FLAT_CONTRAST:
        return None
    if dark_share < PHASE_DARK_SHARE:
        return None  # nothing darker inside: a faint bright (fluorescent) cell, which the map or the threshold tells
    mask = _own_part(mask, row - y0, col - x0)  # touching textured cells are one region
    # Back to the cell's edge: the region reaches TEXTURE_REACH px past it (on Usiigaci sets 2-5
    # a click then matches its cell 51 % of the time, 41 % unshrunk).
    core = component_at(ndimage.binary_erosion(mask, iterations=TEXTURE_REACH), row - y0, col - x0, TEXTURE_REACH)
    return rect, core if core is not None and int(core.sum()) >= MIN_CELL else mask


def _clearly_contrasted(image: np.ndarray, labels: np.ndarray, row: int, col: int) -> bool:
    """A quick look in the first, small window (most clicks are on bright or dark nuclei, and
    the texture of the largest window costs about ten times as much): is the clicked 9 x 9 px
    far from the level of the window's untextured unlabelled pixels?"""
    y0, x0, y1, x1 = _window(labels.shape, col, row, ADD_WINDOW)
    free = labels[y0:y1, x0:x1] == 0
    grey = grey_image(image[y0:y1, x0:x1])
    textured = textured_region(grey, free)
    if textured is None:
        return False
    smooth = ndimage.gaussian_filter(grey, 1.0)
    background = smooth[free & ~textured]
    if background.size < 2 * MIN_CELL:
        return False
    level, noise = level_and_noise(background)
    r, c = row - y0, col - x0
    clicked = float(np.median(smooth[max(0, r - 4) : r + 5, max(0, c - 4) : c + 5]))
    return abs(clicked - level) >= CLEARLY_CONTRASTED * noise


# A cell no brighter or darker than the unlabelled ring around it, in noise widths of that
# ring: measured on true cells (median over a cell against its ring 4-12 px out), Usiigaci phase
# contrast sets 2-5: 90 % of cells under 0.6; 40 dsb2018-extra images: fluorescence 90 % over
# 7.7, stained 90 % over 3.6.
FLAT_CONTRAST = 2.0
CLEARLY_CONTRASTED = 8.0  # the click's quick look: fluorescence 90 % of nuclei over 8.9 (3.7 on phase contrast)
TEXTURE_REACH = 6  # px the textured region reaches past a cell (the deviation's blur and the closing)


# A phase-contrast cell is dark inside its bright halo: the share of its pixels darker than the
# unlabelled ring around it by 3 of the ring's noise widths (_ring_contrast). Usiigaci sets 2-5,
# cells the texture rule found at a click: 10th percentile 0.14, none under 0.05. The faint
# fluorescent nuclei it took on dsb2018-extra images 220-361 (78 clicks, 3 right): 75 had none.
PHASE_DARK_SHARE = 0.05


def _ring_contrast(grey: np.ndarray, mask: np.ndarray, free: np.ndarray, row: int, col: int) -> tuple[float, float]:
    """(|median inside the cell - median of the ring 4-12 px around the region| / the ring's
    noise, the share of the cell's pixels darker than the ring by 3 noise widths). The cell is
    the textured region less the rim its texture spread over (else, on a small nucleus, the
    region is mostly background); that rim gone, the 9 x 9 px at the click. With no ring to
    compare with: (inf, 1.0), never a flat cell."""
    smooth = ndimage.gaussian_filter(grey, 1.0)
    ring = ndimage.binary_dilation(mask, iterations=12) & ~ndimage.binary_dilation(mask, iterations=4) & free
    if int(ring.sum()) < 2 * MIN_CELL:
        return float("inf"), 1.0
    core = ndimage.binary_erosion(mask, iterations=TEXTURE_REACH)
    if int(core.sum()) < MIN_CELL:
        core = np.zeros(mask.shape, bool)
        core[max(0, row - 4) : row + 5, max(0, col - 4) : col + 5] = True
    level, noise = level_and_noise(smooth[ring])
    inside = smooth[core]
    return abs(float(np.median(inside)) - level) / noise, float((inside < level - 3.0 * noise).mean())


def largest_component(mask: np.ndarray) -> np.ndarray | None:
    """The largest 4-connected region of a boolean mask (None when it is empty)."""
    components, count = ndimage.label(mask)
    if count == 0:
        return None
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return components == int(np.argmax(sizes))
