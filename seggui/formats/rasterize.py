"""Shapes to pixels and pixels to shapes, the way each reference tool does it.

Each tool rasterises polygons slightly differently at the boundary, and re-importing a
file must give the pixels its own tool gives: LabelMe uses Pillow's ImageDraw, COCO and
CVAT use pycocotools' polygon rasteriser, Supervisely uses OpenCV's fillPoly. Shapes are
drawn into a crop around their bounding box (an integer translation, which changes no
pixel) so that thousands of small shapes on a large image stay cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Crop:
    """A boolean mask covering rows top..top+h, columns left..left+w of the image."""

    mask: np.ndarray
    top: int
    left: int

    @property
    def pixels(self) -> int:
        return int(np.count_nonzero(self.mask))


def _crop_window(points: np.ndarray, height: int, width: int, margin: int = 2):
    """Integer window around points, clipped to the image; None when it misses the image."""
    left = max(int(math.floor(points[:, 0].min())) - margin, 0)
    top = max(int(math.floor(points[:, 1].min())) - margin, 0)
    right = min(int(math.ceil(points[:, 0].max())) + margin + 1, width)
    bottom = min(int(math.ceil(points[:, 1].max())) + margin + 1, height)
    if right <= left or bottom <= top:
        return None
    return top, left, bottom, right


def _pil_draw(points: np.ndarray, height: int, width: int, draw_call, margin: int = 2) -> Crop | None:
    from PIL import Image, ImageDraw

    window = _crop_window(points, height, width, margin)
    if window is None:
        return None
    top, left, bottom, right = window
    canvas = Image.new("L", (right - left, bottom - top), 0)
    draw_call(ImageDraw.Draw(canvas), points - np.array([left, top], dtype=float))
    return Crop(np.asarray(canvas, dtype=np.uint8) > 0, top, left)


def pil_polygon(points: np.ndarray, height: int, width: int) -> Crop | None:
    """Filled polygon with its outline, as LabelMe's own mask export draws it."""
    return _pil_draw(
        points, height, width,
        lambda draw, p: draw.polygon([tuple(q) for q in p.tolist()], outline=1, fill=1),
    )


def pil_rectangle(points: np.ndarray, height: int, width: int) -> Crop | None:
    corners = np.array([points[:, 0].min(), points[:, 1].min(), points[:, 0].max(), points[:, 1].max()])
    return _pil_draw(
        points, height, width,
        lambda draw, p: draw.rectangle(
            [p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()], outline=1, fill=1
        ),
    ) if corners.size else None


def pil_circle(center: np.ndarray, rim: np.ndarray, height: int, width: int) -> Crop | None:
    """LabelMe circle: a centre point and a point on the rim."""
    radius = float(np.hypot(*(center - rim)))
    box = np.array([center - radius, center + radius])
    return _pil_draw(
        box, height, width,
        lambda draw, p: draw.ellipse([p[0, 0], p[0, 1], p[1, 0], p[1, 1]], outline=1, fill=1),
    )


def cv_ellipse(cx: float, cy: float, rx: float, ry: float, angle: float, height: int, width: int) -> Crop | None:
    """CVAT ellipse (centre, radii, rotation in degrees) filled with OpenCV."""
    import cv2

    reach = max(rx, ry)
    box = np.array([[cx - reach, cy - reach], [cx + reach, cy + reach]])
    window = _crop_window(box, height, width)
    if window is None:
        return None
    top, left, bottom, right = window
    canvas = np.zeros((bottom - top, right - left), np.uint8)
    # Sub-pixel precision (shift=4) so small ellipses keep their shape.
    cv2.ellipse(
        canvas,
        (int(round((cx - left) * 16)), int(round((cy - top) * 16))),
        (int(round(rx * 16)), int(round(ry * 16))),
        float(angle), 0.0, 360.0, 1, -1, cv2.LINE_8, 4,
    )
    return Crop(canvas > 0, top, left)


def cv_polygon(exterior: np.ndarray, interiors: list[np.ndarray], height: int, width: int) -> Crop | None:
    """Polygon with holes as the Supervisely SDK draws it: vertices are pixel-centre coordinates
    floored to integers (its PointLocation floors), the exterior is filled with OpenCV's
    fillPoly (boundary pixels included) and the holes are then filled with 0."""
    import cv2

    window = _crop_window(exterior, height, width)
    if window is None:
        return None
    top, left, bottom, right = window
    canvas = np.zeros((bottom - top, right - left), np.uint8)
    offset = np.array([left, top], dtype=float)
    cv2.fillPoly(canvas, [np.floor(exterior - offset).astype(np.int32)], 1)
    holes = [np.floor(hole - offset).astype(np.int32) for hole in interiors if len(hole) >= 3]
    if holes:
        cv2.fillPoly(canvas, holes, 0)
    return Crop(canvas > 0, top, left)


def coco_polygons(polygons: list[np.ndarray], height: int, width: int) -> Crop | None:
    """Union of polygons, rasterised by pycocotools as COCO's own tools do."""
    from pycocotools import mask as mask_utils

    allpoints = np.concatenate(polygons)
    window = _crop_window(allpoints, height, width)
    if window is None:
        return None
    top, left, bottom, right = window
    offset = np.array([left, top], dtype=float)
    flat = [(polygon - offset).ravel().tolist() for polygon in polygons]
    rles = mask_utils.frPyObjects(flat, bottom - top, right - left)
    mask = mask_utils.decode(mask_utils.merge(rles)) > 0
    return Crop(mask, top, left)


def centre_fill(rings: list[np.ndarray], height: int, width: int,
                max_crossings: int = 20_000_000) -> Crop | None:
    """Even-odd fill of rings in pixel-corner coordinates (GeoJSON, QuPath): pixel (col, row)
    is set when its centre (col + 0.5, row + 0.5) lies inside, so holes are simply more rings.

    A scanline fill: each row centre's crossings with every edge, paired left to right. Its
    cost is the crossings plus the pixels, where skimage's point-in-polygon test costs pixels
    times vertices (hours for a tissue outline). Edges count on the half-open range
    [low y, high y), so a vertex on a scanline is crossed once; a centre exactly on a left
    edge is inside, on a right edge outside. ValueError past `max_crossings` (hostile input).
    """
    points = np.concatenate(rings)
    left = max(int(math.floor(points[:, 0].min())), 0)
    top = max(int(math.floor(points[:, 1].min())), 0)
    right = min(int(math.ceil(points[:, 0].max())), width)
    bottom = min(int(math.ceil(points[:, 1].max())), height)
    if right <= left or bottom <= top:
        return None
    start = points
    end = np.concatenate([np.roll(ring, -1, axis=0) for ring in rings])
    low, high = np.minimum(start[:, 1], end[:, 1]), np.maximum(start[:, 1], end[:, 1])
    first = np.clip(np.ceil(low - 0.5), top, bottom).astype(np.int64)  # rows whose centre is in [low, high)
    stop = np.clip(np.ceil(high - 0.5), top, bottom).astype(np.int64)
    counts = np.maximum(stop - first, 0)
    total = int(counts.sum())
    if total > max_crossings:
        raise ValueError(f"polygon crosses {total:,} scanlines, more than {max_crossings:,}")
    mask = np.zeros((bottom - top, right - left), dtype=bool)
    if total == 0:
        return Crop(mask, top, left)
    edge = np.repeat(np.arange(len(start)), counts)
    rows = first[edge] + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    (x0, y0), (x1, y1) = start[edge].T, end[edge].T
    xs = x0 + (rows + 0.5 - y0) * (x1 - x0) / (y1 - y0)
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    # Closed rings cross every scanline an even number of times: pairs are (enter, leave).
    enter = np.clip(np.ceil(xs[0::2] - 0.5), left, right).astype(np.int64) - left
    leave = np.clip(np.ceil(xs[1::2] - 0.5), left, right).astype(np.int64) - left
    steps = np.zeros((bottom - top, right - left + 1), dtype=np.int32)
    np.add.at(steps, (rows[0::2] - top, enter), 1)
    np.add.at(steps, (rows[0::2] - top, leave), -1)
    mask[:] = np.cumsum(steps, axis=1)[:, :-1] > 0
    return Crop(mask, top, left)


# --- run-length encodings -------------------------------------------------------------

def coco_rle_counts(labels: np.ndarray) -> dict[int, list[int]]:
    """Uncompressed COCO RLE counts (column-major) of every instance in one pass.

    One scan over the image finds every run of equal ids; grouping runs by id then gives
    each instance's counts. The cost is one pass over the pixels in total, not one per
    instance, and it equals encoding each instance cropped to its bounding box.
    """
    height, width = labels.shape
    flat = np.ascontiguousarray(labels.T).ravel()
    if flat.size == 0:
        return {}
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [flat.size]))
    values = flat[starts]
    keep = values != 0
    starts, ends, values = starts[keep], ends[keep], values[keep]
    if values.size == 0:
        return {}
    order = np.argsort(values, kind="stable")
    starts, ends, values = starts[order], ends[order], values[order]
    boundaries = np.flatnonzero(np.diff(values)) + 1
    result: dict[int, list[int]] = {}
    total = flat.size
    for run_starts, run_ends, run_values in zip(
        np.split(starts, boundaries), np.split(ends, boundaries), np.split(values, boundaries)
    ):
        gaps = run_starts - np.concatenate(([0], run_ends[:-1]))
        counts = np.empty(2 * len(run_starts) + 1, dtype=np.int64)
        counts[0:-1:2] = gaps
        counts[1::2] = run_ends - run_starts
        counts[-1] = total - run_ends[-1]
        result[int(run_values[0])] = counts.tolist()
    return result


def compress_coco_rle(counts: list[int], height: int, width: int) -> dict:
    """Compressed RLE (the `counts` string form) from uncompressed counts, via pycocotools."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.frPyObjects({"counts": counts, "size": [height, width]}, height, width)
    return {"size": [int(height), int(width)], "counts": rle["counts"].decode("ascii")}


def decode_rowmajor_rle(counts: list[int], height: int, width: int) -> np.ndarray | None:
    """CVAT mask RLE: alternating background/foreground runs, row by row. None if sizes disagree."""
    counts_array = np.asarray(counts, dtype=np.int64)
    if counts_array.size == 0 or (counts_array < 0).any() or int(counts_array.sum()) != height * width:
        return None
    values = np.zeros(counts_array.size, dtype=bool)
    values[1::2] = True
    return np.repeat(values, counts_array).reshape(height, width)


def encode_rowmajor_rle(mask: np.ndarray) -> list[int]:
    flat = np.ascontiguousarray(mask, dtype=bool).ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    return counts


# --- masks to polygons ----------------------------------------------------------------

def mask_contours(mask: np.ndarray) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Outer contours with their holes, as (exterior (N,2), [hole (M,2), ...]) in pixel xy."""
    import cv2

    found, hierarchy = cv2.findContours(
        np.ascontiguousarray(mask, dtype=np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    shapes: dict[int, tuple[np.ndarray, list[np.ndarray]]] = {}
    for index, contour in enumerate(found):
        parent = hierarchy[index][3]
        points = contour.reshape(-1, 2).astype(float)
        if parent < 0:
            shapes.setdefault(index, (points, []))
        else:
            shapes.setdefault(parent, (found[parent].reshape(-1, 2).astype(float), []))[1].append(points)
    return list(shapes.values())


def instance_boxes(labels: np.ndarray) -> dict[int, tuple[slice, slice]]:
    """Tight (rows, cols) slices of every instance id present."""
    from scipy import ndimage

    if labels.size == 0 or not labels.any():
        return {}
    objects = ndimage.find_objects(labels)
    return {index + 1: box for index, box in enumerate(objects) if box is not None}


def distinct_instance_colors(labels: np.ndarray) -> dict[int, int]:
    """Greedy colouring of the instance adjacency graph: touching instances differ."""
    from scipy import ndimage

    labels = labels.astype(np.int64)
    ids = [int(i) for i in np.unique(labels) if i]
    neighbours: dict[int, set[int]] = {i: set() for i in ids}
    grown = ndimage.grey_dilation(labels, size=(3, 3))
    touching = (grown != labels) & (labels != 0) & (grown != 0)
    for a, b in set(zip(labels[touching].tolist(), grown[touching].tolist())):
        neighbours[a].add(b)
        neighbours[b].add(a)
    # grey_dilation takes the max: also look from the other side for smaller neighbours.
    shrunk = ndimage.grey_erosion(np.where(labels == 0, labels.max() + 1, labels), size=(3, 3))
    touching = (shrunk != labels) & (labels != 0) & (shrunk <= labels.max())
    for a, b in set(zip(labels[touching].tolist(), shrunk[touching].tolist())):
        neighbours[a].add(b)
        neighbours[b].add(a)
    colors: dict[int, int] = {}
    for instance in ids:
        used = {colors[n] for n in neighbours[instance] if n in colors}
        color = 0
        while color in used:
            color += 1
        colors[instance] = color
    return colors


def polygon_with_holes(exterior: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """One ring that walks the exterior and visits each hole through a zero-width cut.

    COCO and CVAT polygons have no holes, but their even-odd fill leaves a hole a ring
    visits this way empty, so instances with holes survive an export as polygons.
    """
    ring = np.asarray(exterior, dtype=float)
    for hole in holes:
        hole = np.asarray(hole, dtype=float)
        if len(hole) < 3:
            continue
        distances = ((ring[:, None, :] - hole[None, :, :]) ** 2).sum(axis=2)
        at_ring, at_hole = np.unravel_index(int(np.argmin(distances)), distances.shape)
        hole_walk = np.concatenate([hole[at_hole:], hole[:at_hole + 1]])
        ring = np.concatenate([ring[:at_ring + 1], hole_walk, ring[at_ring:]])
    return ring


def mask_polygons(mask: np.ndarray, offset: float, holes: bool = True) -> list[np.ndarray]:
    """Polygons (N, 2) tracing a mask; `offset` moves contour points from pixel centres
    (0: Pillow/LabelMe convention) to pixel-corner coordinates (0.5: COCO/CVAT).

    Contours of one or two pixels become the square around them, so they stay polygons.
    """
    rings = []
    for exterior, inner in mask_contours(mask):
        if len(exterior) < 3:
            low, high = exterior.min(axis=0) - 0.5, exterior.max(axis=0) + 0.5
            exterior = np.array([[low[0], low[1]], [high[0], low[1]], [high[0], high[1]], [low[0], high[1]]])
        ring = polygon_with_holes(exterior, inner) if holes else exterior
        rings.append(ring + offset)
    return rings


def pil_exact_polygons(mask: np.ndarray) -> list[np.ndarray] | None:
    """Outer rings (N, 2) through pixel centres that Pillow, filling with outline as labelme
    draws polygons, turns back into exactly `mask`; None when no such rings exist.

    LabelMe polygons have no holes and cannot hold one- or two-pixel-wide diagonal parts,
    so callers store those cells' pixels instead. Checking every cell by drawing it also
    proves that no polygon paints a pixel of another cell, so drawing order cannot hide one.
    """
    padded = np.pad(np.asarray(mask, dtype=bool), 1)  # room to see a fill spill past the box
    height, width = padded.shape
    rings = [exterior for exterior, _ in mask_contours(padded) if len(exterior) >= 3]
    drawn = np.zeros_like(padded)
    for ring in rings:
        crop = pil_polygon(ring, height, width)
        if crop is not None:
            drawn[crop.top:crop.top + crop.mask.shape[0], crop.left:crop.left + crop.mask.shape[1]] |= crop.mask
    if not rings or not np.array_equal(drawn, padded):
        return None
    return [ring - 1.0 for ring in rings]


def pixel_edge_rings(mask: np.ndarray) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """(exterior, [hole, ...]) per part, in pixel-corner coordinates, along the mask's edges.

    Tracing pixel centres (as `mask_contours` does) puts the outline half a pixel inside the
    cell, and rasterisers that fill pixels whose centres lie inside (pycocotools, datumaro,
    QuPath) then lose its whole border row. Marching squares at level 0.5 runs between the
    centres of inside and outside pixels instead: every inside centre is inside the polygon
    and every outside centre outside, and none lies on an edge, so any pixel-centre rule gives
    back the mask exactly. Touching diagonal pixels stay one part (`fully_connected='high'`).
    Rings are open (first point not repeated); with y pointing down, exteriors have negative
    shoelace area and holes positive.
    """
    from skimage import measure

    padded = np.pad(np.asarray(mask, dtype=np.uint8), 1)
    rings = []
    for contour in measure.find_contours(padded, 0.5, fully_connected="high", positive_orientation="high"):
        points = _without_collinear(contour[:-1])  # find_contours repeats the first point at the end
        if len(points) >= 3:
            rings.append(points[:, ::-1] - 0.5)  # (row, col) of the padded array -> x, y of pixel corners
    # With y pointing down, rings around high values come out with negative signed area.
    exteriors = [ring for ring in rings if _signed_area(ring) < 0]
    owners: list[list[np.ndarray]] = [[] for _ in exteriors]
    for hole in (ring for ring in rings if _signed_area(ring) >= 0):
        around = [index for index, ring in enumerate(exteriors)
                  if measure.points_in_poly(hole[:1], ring)[0]]
        if around:  # the smallest ring that encloses it (a cell inside another's hole has its own)
            owners[min(around, key=lambda index: abs(_signed_area(exteriors[index])))].append(hole)
    return list(zip(exteriors, owners))


def pixel_edge_polygons(mask: np.ndarray, holes: bool = True) -> list[np.ndarray]:
    """Polygons (N, 2) in pixel-corner coordinates (COCO, CVAT) along the mask's outer edges
    (see `pixel_edge_rings`). Holes are joined to the ring around them by a zero-width cut,
    since COCO and CVAT polygons have no holes of their own.
    """
    parts = pixel_edge_rings(mask)
    if not holes:
        return [exterior for exterior, _ in parts]
    return [polygon_with_holes(exterior, inner) if inner else exterior for exterior, inner in parts]


def centre_integer_rings(mask: np.ndarray) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """(exterior, [hole, ...]) per part as integer pixel-centre vertices (Supervisely polygons).

    Supervisely's SDK floors vertices and fills them with OpenCV's fillPoly, which includes
    the pixels the outline passes through; holes are filled with 0 afterwards. The rings of
    `pixel_edge_rings` run between inside and outside pixel centres, so each vertex has one
    half-integer coordinate: it is moved to the neighbouring centre inside the cell (for an
    exterior) or inside the hole (for a hole). The outline then runs through boundary pixels
    of what is filled, and floor, round and fillPoly all give the mask back (every one of
    3,038 real DSB2018 and Usiigaci cells exactly, against 0.91 mean IoU for the unsnapped rings).
    """
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1)

    def snap(ring: np.ndarray, inside: bool) -> np.ndarray:
        centre = ring - 0.5 + 1  # pixel corners -> centres, in the padded array
        x, y = centre[:, 0], centre[:, 1]
        half_x = np.abs(x - np.round(x)) > 0.25
        low_x, low_y = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        xi, yi = np.round(x).astype(np.int64), np.round(y).astype(np.int64)
        xi = np.where(half_x, np.where(padded[yi, low_x] == inside, low_x, low_x + 1), xi)
        yi = np.where(~half_x, np.where(padded[low_y, xi] == inside, low_y, low_y + 1), yi)
        points = np.stack([xi, yi], axis=1) - 1
        keep = np.any(points != np.roll(points, 1, axis=0), axis=1)
        points = points[keep] if keep.any() else points[:1]
        if len(points) < 3:  # a one-pixel cell: the SDK pads short rings with their last point
            points = np.concatenate([points, np.repeat(points[-1:], 3 - len(points), axis=0)])
        return points

    return [(snap(exterior, True), [snap(hole, False) for hole in holes])
            for exterior, holes in pixel_edge_rings(mask)]


def _without_collinear(points: np.ndarray) -> np.ndarray:
    before = points - np.roll(points, 1, axis=0)
    after = np.roll(points, -1, axis=0) - points
    turn = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    return points[np.abs(turn) > 1e-9]


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))

