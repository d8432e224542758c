"""Training pairs from a seggui project: its reviewed images and their saved labels, and the
verified cells of other images, split into training and the project's fixed validation set
(seggui.core.validation_set)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seggui.core.errors import TrainingError
from seggui.core.training_set import project_split
from seggui.ml.training.data import Pair


@dataclass
class ProjectPairs:
    training: list[Pair]
    validation: list[Pair]
    unmeasured_reason: str


def project_pairs(folder: Path) -> ProjectPairs:
    split = project_split(folder)
    if not split.training and not split.validation:
        raise TrainingError("the project has no reviewed images and no verified cells: mark corrected images "
                            "reviewed, or verify cells in the Review queue, first", folder)
    if not split.training:
        raise TrainingError("every reviewed image is in the project's validation set: review more images", folder)
    seen: set[str] = set()

    def pair(sample) -> Pair:
        stem = Path(sample.name).stem
        unique, counter = stem, 2
        while unique in seen:  # two images with the same file name from different folders
            unique, counter = f"{stem}-{counter}", counter + 1
        seen.add(unique)
        return Pair(unique, sample.image_path, [sample.mask_path], ignore_ids=sample.ignore_ids,
                    verified_ids=sample.verified_ids)

    training = [pair(s) for s in split.training]
    validation = [pair(s) for s in split.validation]
    return ProjectPairs(training, validation, split.unmeasured_reason)


def pairs_from_project(folder: Path) -> list[Pair]:
    """Every reviewed image (training and validation), for callers that split themselves."""
    split = project_pairs(folder)
    return split.training + split.validation
