"""DSB2018 helpers: the held-out test split and the imaging modality of each image.

The bundled model's card reports accuracy separately per modality because the three kinds
of DSB images differ in difficulty, and a single average hides a weak one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seggui.ml.training.data import Pair, find_pairs, heldout_by_hash, read_labels

# The bundled model was trained with --holdout-hash-percent 15: these stems were never seen.
HELDOUT_PERCENT = 15.0
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


def heldout_pairs(root: Path, percent: float = HELDOUT_PERCENT) -> list[Pair]:
    return [p for p in find_pairs(Path(root), None) if heldout_by_hash(p.stem, percent)]


def load_truth(pair: Pair) -> np.ndarray:
    return read_labels(pair.mask_paths)
