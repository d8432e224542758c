"""DSB2018 helpers: the held-out test split and its ground truth.

The bundled model's card reports accuracy separately per modality (seggui.ml.modality)
because the three kinds of DSB images differ in difficulty, and a single average hides a
weak one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seggui.ml.training.data import Pair, find_pairs, heldout_by_hash, read_labels

# The bundled model was trained with --holdout-hash-percent 15: these stems were never seen.
HELDOUT_PERCENT = 15.0
def heldout_pairs(root: Path, percent: float = HELDOUT_PERCENT) -> list[Pair]:
    return [p for p in find_pairs(Path(root), None) if heldout_by_hash(p.stem, percent)]


def load_truth(pair: Pair) -> np.ndarray:
    return read_labels(pair.mask_paths)
