"""Training pairs from a seggui project: its reviewed images and their saved labels."""

from __future__ import annotations

from pathlib import Path

from seggui.core.errors import TrainingError
from seggui.core.training_set import reviewed_samples
from seggui.ml.training.data import Pair


def pairs_from_project(folder: Path) -> list[Pair]:
    samples = reviewed_samples(folder)
    if not samples:
        raise TrainingError("the project has no reviewed images: mark corrected images reviewed first", folder)
    pairs, seen = [], set()
    for sample in samples:
        stem = Path(sample.name).stem
        unique, counter = stem, 2
        while unique in seen:  # two images with the same file name from different folders
            unique, counter = f"{stem}-{counter}", counter + 1
        seen.add(unique)
        pairs.append(Pair(unique, sample.image_path, [sample.mask_path]))
    return pairs
