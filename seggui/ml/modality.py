"""An image's modality from its pixels: fluorescence, stained (colour) or brightfield.

DSB2018's held-out figures are reported per modality (seggui.ml.dsb), and training can share
its crops between modalities (--balance-modalities). seggui.core's `_stained` test for the
texture rule of the assisted click is a different question (is this image coloured at all).
"""

from __future__ import annotations

import numpy as np

MODALITIES = ("fluorescence", "stained", "brightfield")


def modality(image: np.ndarray) -> str:
    """fluorescence: grey on dark background; stained: coloured; brightfield: grey on bright."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] >= 3:
        rgb = array[..., :3].astype(np.float32)
        spread = float(np.mean(rgb.max(axis=2) - rgb.min(axis=2)))
        scale = float(np.iinfo(array.dtype).max) if array.dtype.kind in "ui" else max(1e-6, float(rgb.max()))
        if spread / scale > 0.02:
            return "stained"
        grey = rgb.mean(axis=2) / scale
    else:
        grey = array.astype(np.float32)
        grey = grey / (float(np.iinfo(array.dtype).max) if array.dtype.kind in "ui" else max(1e-6, float(grey.max())))
    return "fluorescence" if float(np.median(grey)) < 0.5 else "brightfield"
