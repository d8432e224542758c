"""How much to trust each proposed cell: one score in [0, 1] per cell and one per image.

Higher means more likely right. The score is computed from what the model produced (its
probability maps, never the ground truth), so it can rank a proposal's cells and images for
review: look at the low ones first. Qt-free and torch-free (numpy, scipy, scikit-image).

Network models (U-Net with background / interior / boundary classes and a distance head;
DeepLabV3 with just a foreground map) give per-cell *cues*, each in [0, 1]:

- ``foreground``: mean foreground probability (1 - P(background)) inside the cell.
- ``seed``: seed strength, the largest predicted distance-to-edge inside the cell (the
  distance head is trained to reach 1 at every cell's centre); the largest interior-class
  probability without a distance head; absent for models with neither.
- ``sharpness``: boundary sharpness, the mean foreground probability on the cell's inner
  edge band (2 px) minus that on the unlabelled band just outside it (2 px); a cell with
  no unlabelled pixels around it (packed among others) uses its inner band alone.
- ``solidity``: area / convex-hull area, mapped linearly from [0.6, 0.95] onto [0, 1]:
  nuclei and most cells are convex, two cells merged into one are not.
- ``agreement`` (only with ``PredictOptions.score_flip``; costs a second forward pass):
  the cell's best IoU with the cells predicted on the horizontally flipped image.

The cell's score is the weighted geometric mean of its cues,
``exp(sum(w * log(max(cue, 0.01))) / sum(w))`` with the weights in ``NETWORK_WEIGHTS``:
any one weak cue pulls the score down, and a cell whose cues all read 0.9 scores 0.9.

The classic model (no network) uses its own cues on its normalised image (cells bright):
``contrast`` = (mean inside - mean on a 3 px unlabelled ring outside) / mean inside, and the
same ``solidity``, combined the same way with ``CLASSIC_WEIGHTS``.

The image score is the area-weighted mean of its cells' scores (large cells count more, as
they take more of the review). An image with no cells scores 1 - its mean foreground
probability: confidently empty gives about 1, foreground the post-processing turned into
no cell gives less; 1.0 when there is no map either.

`benchmarks/cell_confidence.py` measures how well the score separates cells that match
ground truth (IoU >= 0.5) from the rest.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# Chosen by a grid over 0..3 on 30 DSB2018 images of the training split (1229 cells; the
# cues alone gave AUCs of 0.83-0.87, these weights 0.92); benchmarked on held-out images.
NETWORK_WEIGHTS = {"foreground": 1.0, "seed": 1.0, "sharpness": 1.0, "solidity": 3.0, "agreement": 1.0}
CLASSIC_WEIGHTS = {"contrast": 1.0, "solidity": 1.0}
SOLIDITY_RANGE = (0.6, 0.95)
BAND = 2  # px, the edge bands of the sharpness cue
RING = 3  # px, the outside ring of the classic contrast cue
FLOOR = 0.01  # cues are clipped to [FLOOR, 1] before the logarithm


def cell_ids(labels: np.ndarray) -> np.ndarray:
    """The ids present, ascending (a count per id: a sort of the whole image is slower)."""
    if labels.size == 0 or not labels.any():
        return np.zeros(0, dtype=np.int64)
    if labels.min() < 0:  # negative ids are not cells; bincount cannot take them
        labels = np.where(labels > 0, labels, 0)
    if int(labels.max()) > 4 * labels.size:  # sparse large ids (imported layers): a count would not fit
        ids = np.unique(labels)
        return ids[ids > 0].astype(np.int64)
    present = np.flatnonzero(np.bincount(labels.ravel()))
    return present[present > 0]


def _means(values: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Mean of `values` per id (NaN for an id with no pixels)."""
    if ids.size == 0:
        return np.zeros(0)
    size = max(int(labels.max()), int(ids.max())) + 1
    flat = labels.ravel().astype(np.int64)
    sums = np.bincount(flat, weights=values.ravel().astype(np.float64), minlength=size)
    counts = np.bincount(flat, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts)[ids]


def _cells(labels: np.ndarray, ids: np.ndarray):
    """(position in ids, bounding box, boolean mask inside the box) for each id present.

    Per-cell work inside each cell's box: scipy's labelled reductions and regionprops sort
    or copy the whole image for every call, which cost a third of a 1024x1024 prediction."""
    boxes = ndimage.find_objects(labels)
    for position, cell in enumerate(ids.tolist()):
        box = boxes[cell - 1] if cell - 1 < len(boxes) else None
        if box is not None:
            yield position, box, labels[box] == cell


def _maxima(values: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Largest value per id (NaN for an id with no pixels)."""
    out = np.full(ids.size, np.nan)
    for position, box, mask in _cells(labels, ids):
        out[position] = float(values[box][mask].max())
    return out


def _bands(labels: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(inner, outer) label images: each cell's pixels within `width` of its edge, and the
    unlabelled pixels within `width` outside it (given to the largest nearby id)."""
    size = 2 * width + 1
    low = ndimage.minimum_filter(labels, size=size)
    high = ndimage.maximum_filter(labels, size=size)
    inner = np.where((labels > 0) & ((low != labels) | (high != labels)), labels, 0)
    outer = np.where(labels == 0, high, 0)
    return inner, outer


# Pixel edge midpoints: the hull of these around every boundary pixel is scikit-image's
# convex_hull_image hull (its offset_coordinates), so solidity equals regionprops' value.
_EDGE_MIDPOINTS = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, -0.5], [0.0, 0.5]], dtype=np.float32)


def solidity(labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Area / convex-hull area per id (1.0 for cells too small or thin for a hull).

    The same value as skimage's regionprops(...).solidity (hull of the pixels' edge
    midpoints, pixels whose centre is inside or on it counted), three times faster: the
    hull is taken from the cell's outline (OpenCV) rather than from all its pixels."""
    import cv2
    from skimage.measure import grid_points_in_poly

    values = np.ones(ids.size, dtype=np.float64)
    for position, _, mask in _cells(labels, ids):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        outline = np.concatenate([c.reshape(-1, 2) for c in contours])[:, ::-1].astype(np.float32)
        hull = cv2.convexHull((outline[:, None, :] + _EDGE_MIDPOINTS).reshape(-1, 2)).reshape(-1, 2)
        if len(hull) < 3:
            continue
        hull_area = int(np.count_nonzero(grid_points_in_poly(mask.shape, hull, binarize=False)))
        if hull_area:
            values[position] = min(1.0, int(mask.sum()) / hull_area)
    return values


def solidity_cue(labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    low, high = SOLIDITY_RANGE
    return np.clip((solidity(labels, ids) - low) / (high - low), 0.0, 1.0)


def best_iou(labels: np.ndarray, other: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """For each id of `labels`, its largest IoU with any instance of `other`."""
    if ids.size == 0:
        return np.zeros(0)
    a = labels.ravel().astype(np.int64)
    b_ids, b = np.unique(other.ravel(), return_inverse=True)
    b = b.astype(np.int64)
    n_b = b_ids.size
    rows = max(int(a.max()), int(ids.max())) + 1
    overlap = np.bincount(a * n_b + b, minlength=rows * n_b).reshape(rows, n_b)
    area_a = overlap.sum(axis=1)
    area_b = overlap.sum(axis=0)
    foreground_b = b_ids > 0
    overlap = overlap[:, foreground_b]
    union = area_a[:, None] + area_b[foreground_b][None, :] - overlap
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, overlap / np.maximum(union, 1), 0.0)
    if iou.shape[1] == 0:
        return np.zeros(ids.size)
    return iou.max(axis=1)[ids]


def combine(cues: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted geometric mean of the cues present (each clipped to [FLOOR, 1])."""
    used = [name for name in cues if weights.get(name, 0) > 0]
    if not used:
        raise ValueError("no cue with a weight")
    total = sum(weights[name] for name in used)
    log_sum = sum(weights[name] * np.log(np.clip(np.nan_to_num(cues[name], nan=FLOOR), FLOOR, 1.0))
                  for name in used)
    return np.clip(np.exp(log_sum / total), 0.0, 1.0)


def network_cues(labels: np.ndarray, foreground: np.ndarray, distance: np.ndarray | None = None,
                 interior: np.ndarray | None = None, flipped_labels: np.ndarray | None = None
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(ids, cue name -> value per id) from a network's maps (see the module docstring)."""
    ids = cell_ids(labels)
    cues: dict[str, np.ndarray] = {}
    cues["foreground"] = _means(foreground, labels, ids)
    if distance is not None:
        cues["seed"] = _maxima(distance, labels, ids)
    elif interior is not None:
        cues["seed"] = _maxima(interior, labels, ids)
    inner, outer = _bands(labels, BAND)
    inside = _means(foreground, inner, ids)
    outside = _means(foreground, outer, ids)
    inside = np.where(np.isnan(inside), cues["foreground"], inside)
    cues["sharpness"] = np.clip(np.where(np.isnan(outside), inside, inside - outside), 0.0, 1.0)
    cues["solidity"] = solidity_cue(labels, ids)
    if flipped_labels is not None:
        cues["agreement"] = best_iou(labels, flipped_labels, ids)
    return ids, cues


def classic_cues(labels: np.ndarray, grey: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(ids, cues) for the classic model from its normalised image (cells bright, 0..1)."""
    ids = cell_ids(labels)
    inside = _means(grey, labels, ids)
    _, ring = _bands(labels, RING)
    outside = _means(grey, ring, ids)
    outside = np.where(np.isnan(outside), 0.0, outside)
    with np.errstate(invalid="ignore", divide="ignore"):
        contrast = np.where(inside > 1e-6, (inside - outside) / np.maximum(inside, 1e-6), 0.0)
    return ids, {"contrast": np.clip(contrast, 0.0, 1.0), "solidity": solidity_cue(labels, ids)}


def as_dict(ids: np.ndarray, values: np.ndarray) -> dict[int, float]:
    return {int(i): float(v) for i, v in zip(ids.tolist(), values.tolist())}


def scores_and_cues(ids: np.ndarray, cues: dict[str, np.ndarray], weights: dict[str, float]
                    ) -> tuple[dict[int, float], dict[str, dict[int, float]]]:
    """(cell id -> score, cue name -> cell id -> cue value)."""
    if ids.size == 0:
        return {}, {name: {} for name in cues}
    return as_dict(ids, combine(cues, weights)), {name: as_dict(ids, values) for name, values in cues.items()}


def network_scores(labels: np.ndarray, foreground: np.ndarray, distance: np.ndarray | None = None,
                   interior: np.ndarray | None = None, flipped_labels: np.ndarray | None = None
                   ) -> dict[int, float]:
    """Cell id -> confidence in [0, 1] for a network's proposal."""
    return scores_and_cues(*network_cues(labels, foreground, distance, interior, flipped_labels),
                           NETWORK_WEIGHTS)[0]


def classic_scores(labels: np.ndarray, grey: np.ndarray) -> dict[int, float]:
    """Cell id -> confidence in [0, 1] for the classic model's proposal."""
    return scores_and_cues(*classic_cues(labels, grey), CLASSIC_WEIGHTS)[0]


# The image score is this quantile of its cell scores: an image is as doubtful as its least
# confident tenth of cells. Chosen on 60 training-split DSB2018 images (Spearman with the image's
# AP@0.5, bundled model / the one before it: area-weighted mean 0.677 / 0.757, plain mean
# 0.718 / 0.788, 10th percentile 0.770 / 0.792); on the 48 held-out images 0.723 / 0.781 ->
# 0.796 / 0.835 (benchmarks/cell_confidence.py).
IMAGE_SCORE_QUANTILE = 0.1


def image_score(labels: np.ndarray, scores: dict[int, float], foreground: np.ndarray | None = None) -> float:
    """The 10th percentile of the cell scores (IMAGE_SCORE_QUANTILE); without cells
    1 - mean foreground (or 1.0)."""
    ids = np.array(sorted(scores), dtype=np.int64)
    if ids.size == 0 or not labels.any():
        if foreground is None or foreground.size == 0:
            return 1.0
        return float(np.clip(1.0 - float(np.mean(foreground)), 0.0, 1.0))
    values = np.array([scores[int(i)] for i in ids], dtype=np.float64)
    return float(np.clip(np.quantile(values, IMAGE_SCORE_QUANTILE), 0.0, 1.0))
