"""Split a cell: at a person's clicks, one part per click, or along a drawn line.
Qt-free, torch-free.

    split_instance_command(layer, instance_id, points)  # one undo step, not applied yet
    split_by_line_command(layer, start, end)            # the same for a line across a cell

Used by the `split` tool of `seggui.core.tools`. Both work on the cell's bounding box, so
their cost follows the cell, not the image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from seggui.core.assisted import (
    MIN_CELL,
    TRIM_MARGIN,
    automatic_seeds,
    cell_levels,
    component_at,
    grey_image,
    split_mask,
)
from seggui.core.instance_edits import CompositeCommand, class_table_command, instance_boxes
from seggui.core.layers import LabelLayer, Rect
from seggui.core.paint import change_command
from seggui.core.undo import Command


def power_parts(mask: np.ndarray, seeds: list[tuple[int, int]]) -> np.ndarray:
    """Parts 1..len(seeds) of a boolean mask for a person's clicks, one per (row, column) seed
    inside it: each pixel goes to the seed with the least squared distance less the squared
    radius of the largest disk around the seed inside the mask (a power diagram). Two touching
    round nuclei are then parted along the line through the points where their outlines
    cross, whatever their sizes; nearest-click or watershed parts give the smaller nucleus too
    much or too little. A part's pieces cut off from its click are regrown from the parts
    around the clicks (each goes to the part that reaches it first).

    Merged cells the correction benchmark splits right (a click at each true nucleus's
    innermost point, every part matching at IoU >= 0.5; benchmarks/correction_effort.py on
    dsb2018-extra by stem): images 220-361 169 of 233, split_mask 158; images 100-219 233 of
    289, split_mask 228. A click inside another's larger disk gets an empty part. Pieces no
    click reaches go to the first click with a part (all to part 1 when no click is inside
    the mask); nothing outside the mask is ever in a part."""
    parts = np.zeros(mask.shape, np.int32)
    valid = [(index, row, col) for index, (row, col) in enumerate(seeds, start=1)
             if 0 <= row < mask.shape[0] and 0 <= col < mask.shape[1] and mask[row, col]]
    if not valid:
        parts[mask] = 1
        return parts
    # Padded: the mask is usually cut to its cell's bounds, and the array's edge is its edge too.
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    rows, cols = np.nonzero(mask)
    rows, cols = rows.astype(np.float64), cols.astype(np.float64)
    # One seed at a time, keeping the least power so far: memory follows the cell, not the cell
    # times the seeds (one click on a large region can bring dozens of distance peaks).
    least = np.full(rows.shape, np.inf)
    owner = np.zeros(rows.shape, np.int32)
    for index, row, col in valid:
        power = (rows - row) ** 2 + (cols - col) ** 2 - distance[row, col] ** 2
        closer = power < least
        least[closer] = power[closer]
        owner[closer] = index
    parts[mask] = owner
    # Keep each part's piece around its click; the other pieces are regrown from the kept ones.
    # A click inside another click's larger disk owns nothing, not even its own pixel: its part
    # stays empty (the click with the largest disk always owns its own).
    kept = np.zeros(mask.shape, np.int32)
    owners = [(index, row, col) for index, row, col in valid if parts[row, col] == index]
    for index, row, col in owners:
        pieces, _ = ndimage.label(parts == index)
        kept[pieces == pieces[row, col]] = index
    if (mask & (kept == 0)).any():
        kept = watershed(np.zeros(mask.shape, np.float32), kept, mask=mask)
        kept[mask & (kept == 0)] = owners[0][0]  # a piece of the mask no click reaches
    return kept


def split_instance_command(layer: LabelLayer, instance_id: int, points: list[tuple[float, float]],
                           description: str | None = None, image: np.ndarray | None = None) -> Command | None:
    """Split instance_id at the clicked (x, y) points, one part per point (not applied yet).

    The part of the first point keeps the id; the others get new ids (and the original's
    class). One point: parts from the cell's own distance peaks. Parts: power_parts. With the
    `image` (the layer's size), a proposed cell on stained tissue also has its parts trimmed to
    the nuclei. None when nothing splits.
    """
    box = instance_boxes(layer).box(instance_id)
    if box is None or not instance_id:
        return None
    y0, x0, y1, x1 = box
    region = layer.data[y0:y1, x0:x1]
    mask = region == instance_id
    if not mask.any():
        return None
    seeds = [(int(np.floor(y)) - y0, int(np.floor(x)) - x0) for x, y in points]
    seeds = [s for s in seeds if 0 <= s[0] < mask.shape[0] and 0 <= s[1] < mask.shape[1] and mask[s]]
    seeds = list(dict.fromkeys(seeds))
    if len(seeds) == 1:
        automatic = automatic_seeds(mask)
        if len(automatic) < 2:
            return None
        # The clicked part first, so that it keeps the id.
        first = min(automatic, key=lambda s: (s[0] - seeds[0][0]) ** 2 + (s[1] - seeds[0][1]) ** 2)
        seeds = [first] + [s for s in automatic if s != first]
    if len(seeds) < 2:
        return None
    window = None
    if image is not None and np.asarray(image).shape[:2] == layer.shape:
        window = np.asarray(image)[y0:y1, x0:x1]
    parts = power_parts(mask, seeds)
    if any(parts[row, col] != index for index, (row, col) in enumerate(seeds, start=1)):
        # A click inside another's larger disk owns nothing there: a part per click, by the
        # watershed (a person who clicked twice means two parts).
        parts = split_mask(mask, seeds, window)
    info = layer.instance_info.get(instance_id) or {}
    if window is not None and "score" in info and not info.get("verified") and _stained(window):
        # A cell the model proposed and nobody checked, on stained tissue: parts are also
        # trimmed to the image, since there a merge of touching nuclei usually takes the
        # cytoplasm between them too. On fluorescence the merged outline is the nuclei's own
        # edge and a level cuts a dim nucleus's rim (40 DSB2018 images: assisted correction
        # 1,723 actions trimming on stained images only, 2,196 trimming everywhere). A person's own
        # cell (no score, or verified) is only split, never reshaped.
        parts = _trimmed_parts(parts, seeds, np.asarray(image), layer.data, box)
    return _parts_command(layer, instance_id, box, mask, parts, len(seeds), description)


STAIN_TINT = 10.0  # grey levels by which a window's mean R, G and B differ on a stained (colour) image


def _stained(window: np.ndarray) -> bool:
    """Is this image window in colour (its mean R, G and B apart), as stained tissue is?
    Grey images, and grey stored as RGB, are not."""
    window = np.asarray(window)
    if window.ndim != 3 or window.shape[2] < 3:
        return False
    return float(np.ptp(window[..., :3].astype(np.float32).mean(axis=(0, 1)))) > STAIN_TINT


def _parts_command(layer: LabelLayer, instance_id: int, box: Rect, mask: np.ndarray, parts: np.ndarray,
                   count: int, description: str | None) -> Command | None:
    """The step that gives parts 1..count of the cell (inside `box`) their ids: part 1 keeps
    instance_id, the others get new ids and the original's class; pixels of the cell in no
    part become background."""
    y0, x0, y1, x1 = box
    present = [p for p in range(1, count + 1) if (parts == p).any()]
    if len(present) < 2:
        return None
    new_ids = {present[0]: instance_id}
    next_id = layer.next_free_id()
    for part in present[1:]:
        new_ids[part] = next_id
        next_id += 1
    layer.ensure_capacity(next_id - 1)
    region = layer.data[y0:y1, x0:x1]
    new_region = region.copy()
    new_region[mask] = 0  # pixels trimmed off every part go back to background
    for part, value in new_ids.items():
        new_region[parts == part] = value
    pixels = change_command(layer, box, new_region, description or f"split instance {instance_id} into {len(present)}")
    if pixels.is_empty:
        return None
    commands: list[Command] = [pixels]
    original_class = layer.instance_classes.get(instance_id)
    if original_class is not None:
        for value in list(new_ids.values())[1:]:
            commands.append(class_table_command(layer, value, original_class, "set class"))
    return CompositeCommand(pixels.description, commands)


def line_cut_parts(mask: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray | None:
    """Parts 1..n of a boolean mask cut by the line from `start` to `end` ((row, column),
    window coordinates), largest first, or None when the line does not cut it in two. The
    cut is three pixels wide (a one-pixel line leaks diagonally); its pixels, and pieces
    under MIN_CELL, go to the nearest part, so the parts cover the mask exactly."""
    from skimage.draw import line as draw_line

    height, width = mask.shape
    rows, cols = draw_line(int(round(start[0])), int(round(start[1])), int(round(end[0])), int(round(end[1])))
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    cut = np.zeros(mask.shape, bool)
    cut[rows[inside], cols[inside]] = True
    cut = ndimage.binary_dilation(cut, structure=ndimage.generate_binary_structure(2, 1)) & mask
    pieces, count = ndimage.label(mask & ~cut, structure=np.ones((3, 3), bool))
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)[1:]
    big = [index + 1 for index in np.argsort(-sizes, kind="stable") if sizes[index] >= MIN_CELL]
    if len(big) < 2:
        return None
    parts = np.zeros(mask.shape, np.int32)
    for order, piece in enumerate(big, start=1):
        parts[pieces == piece] = order
    # Every other pixel of the mask (the cut, crumbs) joins the part nearest to it.
    _, (near_rows, near_cols) = ndimage.distance_transform_edt(parts == 0, return_indices=True)
    rest = mask & (parts == 0)
    parts[rest] = parts[near_rows[rest], near_cols[rest]]
    return parts


def split_by_line_command(layer: LabelLayer, start: tuple[float, float], end: tuple[float, float],
                          description: str | None = None) -> Command | None:
    """Split the cell that a drawn line (x, y image points) crosses most into the pieces the
    line cuts it into (not applied yet): the largest piece keeps the id (and its verified mark
    and class), the others get new ids and the class. None when the line crosses no cell or
    does not cut one in two."""
    from skimage.draw import line as draw_line

    height, width = layer.shape
    rows, cols = draw_line(int(np.floor(start[1])), int(np.floor(start[0])), int(np.floor(end[1])), int(np.floor(end[0])))
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    crossed = layer.data[rows[inside], cols[inside]]
    crossed = crossed[crossed != 0]
    if crossed.size == 0:
        return None
    values, number = np.unique(crossed, return_counts=True)
    instance_id = int(values[int(np.argmax(number))])
    box = instance_boxes(layer).box(instance_id)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    mask = layer.data[y0:y1, x0:x1] == instance_id
    parts = line_cut_parts(mask, (np.floor(start[1]) - y0, np.floor(start[0]) - x0),
                           (np.floor(end[1]) - y0, np.floor(end[0]) - x0))
    if parts is None:
        return None
    return _parts_command(layer, instance_id, box, mask, parts, int(parts.max()),
                          description or f"split instance {instance_id} along a line into {int(parts.max())}")


def _trimmed_parts(parts: np.ndarray, seeds: list[tuple[int, int]], image: np.ndarray, labels: np.ndarray,
                   box: Rect) -> np.ndarray:
    """Each part cut to its cell-like pixels (cell_like), the piece at its seed, holes
    filled; the parts as they were where the image gives no clear contrast."""
    y0, x0, y1, x1 = box
    height, width = labels.shape
    py0, px0 = max(0, y0 - TRIM_MARGIN), max(0, x0 - TRIM_MARGIN)
    py1, px1 = min(height, y1 + TRIM_MARGIN), min(width, x1 + TRIM_MARGIN)
    grey = grey_image(image[py0:py1, px0:px1])
    inner = (slice(y0 - py0, y1 - py0), slice(x0 - px0, x1 - px0))
    mask = np.zeros(grey.shape, bool)
    mask[inner] = parts > 0
    background = (labels[py0:py1, px0:px1] == 0) & ~mask & ndimage.binary_dilation(mask, iterations=TRIM_MARGIN)
    smooth = ndimage.gaussian_filter(grey, 1.0)
    shared = cell_levels(smooth, background, [(r + y0 - py0, c + x0 - px0) for r, c in seeds])
    if shared is None:
        return parts
    _, shared_middle, brighter, _ = shared
    trimmed = np.zeros_like(parts)
    for index, (row, col) in enumerate(seeds, start=1):
        own = parts == index
        if not own.any():
            continue
        # Touching nuclei often differ in brightness: the level shared by all would trim the
        # dimmer one to a sliver, so a part dimmer than the rest is cut at its own level.
        middle = shared_middle
        levels = cell_levels(smooth, background, [(row + y0 - py0, col + x0 - px0)])
        if levels is not None and levels[2] == brighter:
            middle = min(middle, levels[1]) if brighter else max(middle, levels[1])
        like = (smooth >= middle if brighter else smooth <= middle)[inner]
        kept = ndimage.binary_opening(own & like, iterations=1)
        piece = kept if kept[row, col] else None
        if piece is not None:
            piece = component_at(kept, row, col)
        if piece is None or int(piece.sum()) < MIN_CELL:
            piece = own  # the click is not on cell-like pixels: the part is kept whole
        trimmed[ndimage.binary_fill_holes(piece) & own] = index
    return trimmed
