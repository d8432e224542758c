"""Turning raw pixels and label ids into display colours (numpy only, region by region).

Everything here works on a region of one level of detail, so the canvas can recolour just
the rectangle an edit touched. Output pixels are 32-bit ARGB words (0xAARRGGBB), the
layout of QImage.Format_ARGB32_Premultiplied / Format_RGB32 on every platform.
"""

from __future__ import annotations

import numpy as np

from seggui.core.annotation import IGNORE_COLOR, ignore_instance_ids
from seggui.core.layers import ImageLayer, LabelLayer

OPAQUE = np.uint32(0xFF000000)

_PURE = {
    "gray": (1.0, 1.0, 1.0), "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0), "magenta": (1.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0),
}
# Anchor colours of the perceptual maps; 256-entry tables are interpolated from them.
_ANCHORS = {
    "viridis": [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
                (31, 158, 137), (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37)],
    "inferno": [(0, 0, 4), (27, 12, 65), (74, 12, 107), (120, 28, 109), (165, 44, 96),
                (207, 68, 70), (237, 105, 37), (251, 155, 6), (247, 209, 61), (252, 255, 164)],
}
_table_cache: dict[str, np.ndarray] = {}


def colormap_table(name: str) -> np.ndarray:
    """(256, 3) uint8 colours for intensities 0..255."""
    table = _table_cache.get(name)
    if table is None:
        ramp = np.linspace(0.0, 1.0, 256)
        if name in _ANCHORS:
            anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
            positions = np.linspace(0.0, 1.0, len(anchors))
            table = np.stack([np.interp(ramp, positions, anchors[:, c]) for c in range(3)], axis=1)
        else:
            table = ramp[:, None] * 255.0 * np.asarray(_PURE.get(name, _PURE["gray"]))[None, :]
        table = _table_cache[name] = np.round(table).astype(np.uint8)
    return table


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (h, w) uint32 opaque ARGB words."""
    rgb = rgb.astype(np.uint32)
    return OPAQUE | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


class ImageRenderer:
    """Contrast, gamma and colormaps of one ImageLayer; lookup tables for integer data."""

    def __init__(self, layer: ImageLayer):
        self.layer = layer
        self._luts: dict[tuple, np.ndarray] = {}

    def _intensity(self, values: np.ndarray, limits: tuple[float, float], gamma: float) -> np.ndarray:
        low, high = limits
        if values.dtype in (np.uint8, np.uint16):
            # One table over the whole dtype range makes every later recolour a single take().
            key = (values.dtype.str, low, high, gamma)
            lut = self._luts.get(key)
            if lut is None:
                if len(self._luts) > 32:
                    self._luts.clear()
                levels = np.arange(np.iinfo(values.dtype).max + 1, dtype=np.float64)
                lut = self._luts[key] = self._scale(levels, low, high, gamma)
            return lut[values]
        return self._scale(values.astype(np.float32), low, high, gamma)

    @staticmethod
    def _scale(values: np.ndarray, low: float, high: float, gamma: float) -> np.ndarray:
        span = max(float(high) - float(low), 1e-12)
        scaled = np.clip((values - low) / span, 0.0, 1.0)
        scaled = np.nan_to_num(scaled, nan=0.0)
        if gamma != 1.0:
            scaled = scaled ** gamma
        return (scaled * 255.0 + 0.5).astype(np.uint8)

    def render(self, region: np.ndarray) -> np.ndarray:
        """Raw (h, w) or (h, w, C) pixels -> (h, w) uint32 opaque ARGB."""
        layer = self.layer
        channels = [region] if region.ndim == 2 else [region[:, :, c] for c in range(region.shape[2])]
        visible = [c for c in range(len(channels)) if c < len(layer.channel_visible) and layer.channel_visible[c]]
        height, width = region.shape[:2]
        if not visible:
            return np.full((height, width), OPAQUE, dtype=np.uint32)
        if len(visible) == 1 and layer.colormaps[visible[0]] == "gray":
            gray = self._intensity(channels[visible[0]], layer.contrast_limits[visible[0]], layer.gamma)
            gray = gray.astype(np.uint32)
            return OPAQUE | (gray << 16) | (gray << 8) | gray
        total = np.zeros((height, width, 3), dtype=np.uint16)
        for c in visible:
            intensity = self._intensity(channels[c], layer.contrast_limits[c], layer.gamma)
            total += colormap_table(layer.colormaps[c])[intensity]  # additive blending
        return pack_rgb(np.minimum(total, 255))


def instance_colors(ids: np.ndarray) -> np.ndarray:
    """Opaque ARGB per id; consecutive ids get far-apart hues (golden-ratio hashing)."""
    ids = np.asarray(ids, dtype=np.float64)
    hue = np.mod(ids * 0.618033988749895, 1.0)
    saturation = 0.65 + 0.35 * np.mod(ids * 0.3819660112501051 + 0.5, 1.0)
    value = 0.8 + 0.2 * np.mod(ids * 0.7548776662466927, 1.0)
    sector = np.floor(hue * 6.0)
    fraction = hue * 6.0 - sector
    p = value * (1.0 - saturation)
    q = value * (1.0 - saturation * fraction)
    t = value * (1.0 - saturation * (1.0 - fraction))
    sector = sector.astype(np.int64) % 6
    red = np.choose(sector, [value, q, p, p, t, value])
    green = np.choose(sector, [t, value, value, q, p, p])
    blue = np.choose(sector, [p, p, t, value, value, q])
    rgb = np.stack([red, green, blue], axis=-1)
    return pack_rgb(np.round(rgb * 255.0).astype(np.uint8))


# Cells without a model score (a person drew them), when colouring by confidence: blue, off the
# red-to-green ramp and visible on bright nuclei, where white fills vanished.
UNSCORED_COLOR = (90, 160, 255)


def confidence_colors(ids: np.ndarray, info: dict) -> np.ndarray:
    """Packed colours for `ids` on a red (score 0) - yellow (0.5) - green (1) ramp by
    `info[id]["score"]`; UNSCORED_COLOR (blue) for cells without a score."""
    ids = np.asarray(ids)
    scores = np.full(ids.shape, np.nan)
    scored = {k: v["score"] for k, v in info.items() if isinstance(v.get("score"), (int, float))}
    if scored and ids.size:
        keys = np.fromiter(scored.keys(), dtype=np.int64)
        values = np.fromiter(scored.values(), dtype=np.float64)
        positions = np.minimum(np.searchsorted(ids, keys), ids.size - 1)
        found = ids[positions] == keys
        scores[positions[found]] = np.clip(values[found], 0.0, 1.0)
    rgb = np.empty(ids.shape + (3,), dtype=np.uint8)
    rgb[...] = UNSCORED_COLOR
    known = ~np.isnan(scores)
    s = scores[known]
    rgb[known, 0] = (235 * np.minimum(1.0, 2.0 * (1.0 - s))).astype(np.uint8)
    rgb[known, 1] = (215 * np.minimum(1.0, 2.0 * s)).astype(np.uint8)
    rgb[known, 2] = 40
    return pack_rgb(rgb)


class LabelPalette:
    """Id -> ARGB colour table of one label layer (by instance or by class); 0 is clear."""

    MAX_TABLE = 1 << 22  # beyond this, colours are computed per region instead of tabled

    def __init__(self, layer: LabelLayer, by_confidence: bool = False):
        self.layer = layer
        self.by_confidence = by_confidence  # red-to-green by instance_info[id]["score"]
        self._table: np.ndarray | None = None

    def invalidate(self) -> None:
        self._table = None

    def _colors(self, ids: np.ndarray) -> np.ndarray:
        layer = self.layer
        if self.by_confidence:
            colors = confidence_colors(ids, layer.instance_info)
        elif not layer.color_by_class:
            colors = instance_colors(ids)
        else:
            class_colors = {c.id: c.color for c in layer.classes}
            default = class_colors.get(layer.default_class_id, (255, 255, 255))
            # ids is always sorted and 1-D here (a table range or np.unique output).
            rgb = np.empty(ids.shape + (3,), dtype=np.uint8)
            rgb[...] = default
            if layer.instance_classes and ids.size:
                keys = np.fromiter(layer.instance_classes.keys(), dtype=np.int64)
                chosen = np.asarray([class_colors.get(c, default) for c in layer.instance_classes.values()],
                                    dtype=np.uint8)
                positions = np.minimum(np.searchsorted(ids, keys), ids.size - 1)
                found = ids[positions] == keys
                rgb[positions[found]] = chosen[found]
            colors = pack_rgb(rgb)
        ignored = ignore_instance_ids(layer.classes, layer.instance_classes)
        if ignored:  # ignore regions always grey, whatever the colouring: they are not cells
            ids_array = np.asarray(ids)
            grey = pack_rgb(np.asarray([IGNORE_COLOR], dtype=np.uint8))[0]
            colors = np.where(np.isin(ids_array, list(ignored)), grey, colors)
        colors = np.where(np.asarray(ids) == 0, np.uint32(0), colors).astype(np.uint32)
        return colors

    def table(self) -> np.ndarray | None:
        needed = self.layer.max_id + 1
        if needed > self.MAX_TABLE:
            return None
        if self._table is None or len(self._table) < needed:
            size = 1 << max(8, int(np.ceil(np.log2(needed + 1))))  # room to paint new ids
            self._table = self._colors(np.arange(min(size, self.MAX_TABLE)))
        return self._table

    def colorize(self, ids: np.ndarray) -> np.ndarray:
        table = self.table()
        if table is not None:
            return table[ids]
        unique, inverse = np.unique(ids, return_inverse=True)
        return self._colors(unique)[inverse].reshape(ids.shape)


def boundaries(padded: np.ndarray) -> np.ndarray:
    """Pixels of a (h+2, w+2) id array's interior that differ from a 4-neighbour, excluding 0."""
    centre = padded[1:-1, 1:-1]
    edge = (centre != padded[:-2, 1:-1]) | (centre != padded[2:, 1:-1])
    edge |= (centre != padded[1:-1, :-2]) | (centre != padded[1:-1, 2:])
    return edge & (centre != 0)


def sample_level(data: np.ndarray, level: int, rect: tuple[int, int, int, int], margin: int = 0) -> np.ndarray:
    """Region (y0, x0, y1, x1) of level `level` (every 2**level-th pixel), with an edge-padded margin."""
    step = 1 << level
    y0, x0, y1, x1 = rect
    level_height = -(-data.shape[0] // step)
    level_width = -(-data.shape[1] // step)
    ty0, tx0 = max(y0 - margin, 0), max(x0 - margin, 0)
    ty1, tx1 = min(y1 + margin, level_height), min(x1 + margin, level_width)
    region = data[ty0 * step:ty1 * step:step, tx0 * step:tx1 * step:step]
    if margin:
        pad = ((ty0 - (y0 - margin), (y1 + margin) - ty1), (tx0 - (x0 - margin), (x1 + margin) - tx1))
        if any(p for pair in pad for p in pair):
            region = np.pad(region, pad, mode="edge")
    return region


def render_labels(data: np.ndarray, level: int, rect: tuple[int, int, int, int], palette: LabelPalette,
                  contour_only: bool) -> np.ndarray:
    if not contour_only:
        return palette.colorize(sample_level(data, level, rect))
    padded = sample_level(data, level, rect, margin=1)
    colors = palette.colorize(padded[1:-1, 1:-1])
    return np.where(boundaries(padded), colors, np.uint32(0))


def render_proposal(data: np.ndarray, level: int, rect: tuple[int, int, int, int],
                    color: int = 0xFFFFD700) -> np.ndarray:
    """A model proposal: outlines in one colour, so it never looks like accepted labels."""
    padded = sample_level(data, level, rect, margin=1)
    return np.where(boundaries(padded), np.uint32(color), np.uint32(0))
