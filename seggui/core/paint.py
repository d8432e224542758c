"""Painting on a label array: brush strokes, fills and polygons as sparse, undoable edits.

A stroke is painted live (each mouse move writes at once, so the canvas shows it) and
recorded sparsely: the flat indices of the pixels it changed and their old values. Only
pixels whose value actually changes are recorded, so each pixel is stored at most once per
stroke and undo memory grows with the painted area, never with the image size.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from seggui.core.layers import LabelLayer, Rect
from seggui.core.undo import Command


def _index_dtype(layer: LabelLayer) -> np.dtype:
    return np.dtype(np.int32) if layer.data.size < 2**31 else np.dtype(np.int64)


def rect_of_indices(indices: np.ndarray, width: int) -> Rect:
    rows = indices // width
    cols = indices % width
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


class LabelEditCommand(Command):
    """A sparse change to a label layer: indices, old values, new values (array or scalar)."""

    def __init__(
        self,
        layer: LabelLayer,
        indices: np.ndarray,
        old_values: np.ndarray,
        new_values: np.ndarray | int,
        description: str,
        rect: Rect | None = None,
    ):
        self.layer = layer
        self.indices = indices
        self.old_values = old_values
        self.new_values = new_values if np.ndim(new_values) else int(new_values)
        self.description = description
        self.rect = rect or (rect_of_indices(indices, layer.shape[1]) if indices.size else (0, 0, 0, 0))

    @property
    def is_empty(self) -> bool:
        return self.indices.size == 0

    @property
    def nbytes(self) -> int:
        new_bytes = self.new_values.nbytes if isinstance(self.new_values, np.ndarray) else 8
        return int(self.indices.nbytes + self.old_values.nbytes + new_bytes + 200)

    def redo(self) -> None:
        self.layer.write_indices(self.indices, self.new_values, self.rect)

    def undo(self) -> None:
        self.layer.write_indices(self.indices, self.old_values, self.rect)


def change_command(
    layer: LabelLayer, rect: Rect, new_region: np.ndarray, description: str
) -> LabelEditCommand:
    """Build (without applying) the command that turns layer[rect] into new_region."""
    y0, x0, y1, x1 = rect
    old_region = layer.data[y0:y1, x0:x1]
    changed = old_region != new_region
    rows, cols = np.nonzero(changed)
    width = layer.shape[1]
    indices = ((rows + y0).astype(np.int64) * width + (cols + x0)).astype(_index_dtype(layer))
    new_values = new_region[changed]
    if new_values.size and (new_values == new_values[0]).all():
        new_values = int(new_values[0])  # brush-like edits: one value, no array kept
    return LabelEditCommand(layer, indices, old_region[changed].copy(), new_values, description)


def capsule_mask(p0: tuple[float, float], p1: tuple[float, float], radius: float,
                 shape: tuple[int, int]) -> tuple[Rect, np.ndarray] | None:
    """Pixels whose centre lies within `radius` of the segment p0-p1 (x, y), clipped.

    Returns (rect, boolean mask over rect), or None when nothing lies inside the image.
    """
    (xa, ya), (xb, yb) = p0, p1
    height, width = shape
    r = max(float(radius), 0.5)
    x0 = max(int(np.floor(min(xa, xb) - r)), 0)
    y0 = max(int(np.floor(min(ya, yb) - r)), 0)
    x1 = min(int(np.ceil(max(xa, xb) + r)) + 1, width)
    y1 = min(int(np.ceil(max(ya, yb) + r)) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
    dx, dy = xb - xa, yb - ya
    length_sq = dx * dx + dy * dy
    if length_sq < 1e-12:
        dist_sq = (xs - xa) ** 2 + (ys - ya) ** 2
    else:
        t = np.clip(((xs - xa) * dx + (ys - ya) * dy) / length_sq, 0.0, 1.0)
        dist_sq = (xs - (xa + t * dx)) ** 2 + (ys - (ya + t * dy)) ** 2
    mask = dist_sq <= r * r
    if not mask.any():
        return None
    return (y0, x0, y1, x1), mask


class StrokeRecorder:
    """Paints one stroke (press to release) and records it for a single undo step.

    value: the label written (0 erases). only_background: leave other instances alone.
    erase_only: when erasing, clear only this label id (None: any label).
    """

    def __init__(self, layer: LabelLayer, value: int, radius: float,
                 only_background: bool = False, erase_only: int | None = None,
                 description: str | None = None):
        self.layer = layer
        self.value = int(value)
        self.radius = float(radius)
        self.only_background = only_background
        self.erase_only = erase_only
        self.description = description or ("erase" if value == 0 else "brush stroke")
        self._indices: list[np.ndarray] = []
        self._old: list[np.ndarray] = []
        self._last: tuple[float, float] | None = None
        self._bounds: list[int] | None = None  # y0, x0, y1, x1 of everything changed
        layer.ensure_capacity(self.value)

    def add_point(self, x: float, y: float) -> Rect | None:
        """Paint from the previous point to (x, y); returns the rectangle that changed."""
        start = self._last if self._last is not None else (x, y)
        self._last = (x, y)
        return self.add_segment(start, (x, y))

    def add_segment(self, p0: tuple[float, float], p1: tuple[float, float]) -> Rect | None:
        hit = capsule_mask(p0, p1, self.radius, self.layer.shape)
        if hit is None:
            return None
        rect, mask = hit
        y0, x0, y1, x1 = rect
        region = self.layer.data[y0:y1, x0:x1]
        change = mask & (region != self.value)
        if self.value != 0 and self.only_background:
            change &= region == 0
        if self.value == 0 and self.erase_only is not None:
            change &= region == self.erase_only
        rows, cols = np.nonzero(change)
        if rows.size == 0:
            return None
        width = self.layer.shape[1]
        indices = (rows + y0).astype(np.int64) * width + (cols + x0)
        self._indices.append(indices.astype(_index_dtype(self.layer)))
        self._old.append(region[rows, cols].copy())
        self.layer.write(rect, np.asarray(self.value, dtype=self.layer.data.dtype), change)
        if self._bounds is None:
            self._bounds = [y0, x0, y1, x1]
        else:
            b = self._bounds
            self._bounds = [min(b[0], y0), min(b[1], x0), max(b[2], y1), max(b[3], x1)]
        return rect

    def finish(self) -> LabelEditCommand | None:
        """The stroke as one command (already applied), or None if it changed nothing."""
        if not self._indices:
            return None
        indices = np.concatenate(self._indices)
        old = np.concatenate(self._old)
        self._indices, self._old = [], []
        return LabelEditCommand(self.layer, indices, old, self.value, self.description,
                                tuple(self._bounds))  # type: ignore[arg-type]


def connected_region(data: np.ndarray, x: int, y: int, window: int = 256) -> tuple[Rect, np.ndarray]:
    """The 4-connected region of equal value containing (x, y), as (rect, mask over rect).

    Grows a window around the click until the region stops touching its edge, so the
    cost follows the region's size, not the image's.
    """
    height, width = data.shape
    value = data[y, x]
    half = window // 2
    while True:
        y0, y1 = max(0, y - half), min(height, y + half + 1)
        x0, x1 = max(0, x - half), min(width, x + half + 1)
        same = data[y0:y1, x0:x1] == value
        components, _ = ndimage.label(same)
        mask = components == components[y - y0, x - x0]
        touches = (
            (y0 > 0 and mask[0].any()) or (y1 < height and mask[-1].any())
            or (x0 > 0 and mask[:, 0].any()) or (x1 < width and mask[:, -1].any())
        )
        if not touches:
            rows, cols = np.nonzero(mask)
            ry0, ry1, rx0, rx1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            return (y0 + ry0, x0 + rx0, y0 + ry1, x0 + rx1), mask[ry0:ry1, rx0:rx1]
        half *= 2


def fill_command(layer: LabelLayer, x: int, y: int, value: int) -> LabelEditCommand | None:
    """Flood the connected region under (x, y) with value (not applied yet)."""
    height, width = layer.shape
    if not (0 <= x < width and 0 <= y < height) or layer.data[y, x] == value:
        return None
    rect, mask = connected_region(layer.data, x, y)
    y0, x0, y1, x1 = rect
    new_region = layer.data[y0:y1, x0:x1].copy()
    new_region[mask] = value
    return change_command(layer, rect, new_region, "fill")


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> tuple[Rect, np.ndarray] | None:
    """Rasterise a polygon (N x 2, x/y) into (rect, mask) clipped to the image."""
    import cv2

    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) < 3 or not np.isfinite(points).all():
        return None
    height, width = shape
    x0 = max(int(np.floor(points[:, 0].min())), 0)
    y0 = max(int(np.floor(points[:, 1].min())), 0)
    x1 = min(int(np.ceil(points[:, 0].max())) + 1, width)
    y1 = min(int(np.ceil(points[:, 1].max())) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    local = np.round(points - [x0, y0]).astype(np.int32)
    cv2.fillPoly(mask, [local], 1)
    return (y0, x0, y1, x1), mask.astype(bool)
