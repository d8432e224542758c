"""Rendered tiles of one layer at several levels of detail, recoloured rectangle by rectangle.

Level k shows every 2**k-th pixel, so a zoomed-out view of a huge image draws a few small
tiles instead of rescaling the whole image. Tiles are rendered lazily (only what is on
screen) and kept in a bounded LRU cache; an edit re-renders only the part of each cached
tile that its rectangle touches, at every cached level.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np
from PySide6.QtGui import QImage

TILE = 512
Rect = tuple[int, int, int, int]
# render(level, (y0, x0, y1, x1) in level pixels) -> (h, w) uint32 ARGB
RenderFunction = Callable[[int, Rect], np.ndarray]


class TileSource:
    def __init__(self, shape: tuple[int, int], render: RenderFunction, image_format: QImage.Format,
                 margin: int = 0, max_tiles: int = 96):
        self.shape = shape
        self.render = render
        self.image_format = image_format
        self.margin = margin  # level pixels around an edit that must be recoloured too (contours)
        self.max_tiles = max_tiles
        self._tiles: OrderedDict[tuple[int, int, int], tuple[np.ndarray, QImage]] = OrderedDict()
        self._levels: dict[int, set[tuple[int, int]]] = {}

    def level_shape(self, level: int) -> tuple[int, int]:
        step = 1 << level
        return -(-self.shape[0] // step), -(-self.shape[1] // step)

    def tile_rect(self, level: int, row: int, column: int) -> Rect:
        height, width = self.level_shape(level)
        y0, x0 = row * TILE, column * TILE
        return y0, x0, min(y0 + TILE, height), min(x0 + TILE, width)

    def invalidate(self) -> None:
        self._tiles.clear()
        self._levels.clear()

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array, _ in self._tiles.values())

    def tile(self, level: int, row: int, column: int) -> QImage:
        key = (level, row, column)
        entry = self._tiles.get(key)
        if entry is not None:
            self._tiles.move_to_end(key)
            return entry[1]
        rect = self.tile_rect(level, row, column)
        array = np.ascontiguousarray(self.render(level, rect), dtype=np.uint32)
        height, width = array.shape
        # The QImage shares the array's memory, so in-place recolouring shows without a copy.
        image = QImage(array.data, width, height, array.strides[0], self.image_format)
        self._tiles[key] = (array, image)
        self._levels.setdefault(level, set()).add((row, column))
        while len(self._tiles) > self.max_tiles:
            (old_level, old_row, old_column), _ = self._tiles.popitem(last=False)
            self._levels[old_level].discard((old_row, old_column))
        return image

    def update_rect(self, rect: Rect) -> None:
        """Re-render the parts of cached tiles that show image rectangle `rect`."""
        y0, x0, y1, x1 = rect
        for level, cached in self._levels.items():
            if not cached:
                continue
            step = 1 << level
            height, width = self.level_shape(level)
            # Level pixel j samples image pixel j * step.
            ly0 = max(-(-y0 // step) - self.margin, 0)
            lx0 = max(-(-x0 // step) - self.margin, 0)
            ly1 = min(-(-y1 // step) + self.margin, height)
            lx1 = min(-(-x1 // step) + self.margin, width)
            if ly0 >= ly1 or lx0 >= lx1:
                continue
            for row in range(ly0 // TILE, (ly1 - 1) // TILE + 1):
                for column in range(lx0 // TILE, (lx1 - 1) // TILE + 1):
                    if (row, column) not in cached:
                        continue
                    array, _ = self._tiles[(level, row, column)]
                    ty0, tx0 = row * TILE, column * TILE
                    sy0, sx0 = max(ly0, ty0), max(lx0, tx0)
                    sy1, sx1 = min(ly1, ty0 + array.shape[0]), min(lx1, tx0 + array.shape[1])
                    array[sy0 - ty0:sy1 - ty0, sx0 - tx0:sx1 - tx0] = self.render(level, (sy0, sx0, sy1, sx1))
