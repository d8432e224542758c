"""Turn raw image arrays (8/16-bit, float, grey, RGB, RGBA) into normalised network input.

The same function is used by inference and training so that a model sees identical
intensities in both; any drift here silently costs accuracy.
"""

from __future__ import annotations

import numpy as np

# Percentiles rather than min/max: a few hot pixels in 16-bit data would otherwise
# squash the whole dynamic range of the cells into a sliver.
DEFAULT_LOW_PERCENTILE = 1.0
DEFAULT_HIGH_PERCENTILE = 99.8
# Percentiles of a 4096x4096 image do not need every pixel; a strided sample is enough
# and keeps normalisation to a few milliseconds.
_PERCENTILE_SAMPLE_PIXELS = 1_000_000


def to_channels(array: np.ndarray, channels: int) -> np.ndarray:
    """Return a float32 (C, H, W) array with `channels` planes, raw intensities kept.

    An alpha plane (4th of RGBA, 2nd of grey+alpha) is dropped; colour is averaged to grey
    for a one-channel model; grey is repeated for a multi-channel model.
    """
    if array.ndim == 2:
        planes = array[None]
    elif array.ndim == 3:
        planes = np.moveaxis(array, -1, 0)
        if planes.shape[0] == 4:
            planes = planes[:3]
        elif planes.shape[0] == 2:
            planes = planes[:1]
    else:
        raise ValueError(f"expected a 2-D or 3-D image array, got shape {array.shape}")
    planes = planes.astype(np.float32, copy=False)
    if channels == planes.shape[0]:
        return np.ascontiguousarray(planes)
    if channels == 1:
        return planes.mean(axis=0, keepdims=True)
    if planes.shape[0] == 1:
        return np.repeat(planes, channels, axis=0)
    if planes.shape[0] > channels:
        return np.ascontiguousarray(planes[:channels])
    pad = np.repeat(planes.mean(axis=0, keepdims=True), channels - planes.shape[0], axis=0)
    return np.concatenate([planes, pad], axis=0)


def percentile_range(
    planes: np.ndarray,
    low: float = DEFAULT_LOW_PERCENTILE,
    high: float = DEFAULT_HIGH_PERCENTILE,
) -> tuple[float, float]:
    """Low and high intensity percentiles over all planes (one scale keeps colour ratios)."""
    flat = planes.reshape(-1)
    if flat.size > _PERCENTILE_SAMPLE_PIXELS:
        step = flat.size // _PERCENTILE_SAMPLE_PIXELS + 1
        flat = flat[::step]
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [low, high])
    return float(lo), float(hi)


def normalize_planes(
    planes: np.ndarray,
    low: float = DEFAULT_LOW_PERCENTILE,
    high: float = DEFAULT_HIGH_PERCENTILE,
) -> np.ndarray:
    """Map the low/high percentiles to 0/1 (not clipped: bright cells stay distinguishable)."""
    lo, hi = percentile_range(planes, low, high)
    scale = hi - lo
    if scale <= 1e-12:
        # A flat image: nothing to find, but keep it finite.
        return np.zeros_like(planes, dtype=np.float32)
    out = (planes - np.float32(lo)) / np.float32(scale)
    np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out.astype(np.float32, copy=False)


def normalize_image(
    array: np.ndarray,
    channels: int = 1,
    low: float = DEFAULT_LOW_PERCENTILE,
    high: float = DEFAULT_HIGH_PERCENTILE,
) -> np.ndarray:
    """Raw image array -> normalised float32 (C, H, W) network input."""
    return normalize_planes(to_channels(array, channels), low, high)
