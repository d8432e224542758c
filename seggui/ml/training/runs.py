"""What every training loop shares (the U-Net's in trainer.py, torchvision's in
torchvision_training.py): the files a run writes, the training/validation split, the clock
that survives --resume, and the model card a run ends with."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from seggui.core.errors import TrainingError
from seggui.core import stopped_runs
from seggui.ml.training import data as training_data
from seggui.ml.training.config import TrainConfig

CHECKPOINT_NAME = stopped_runs.CHECKPOINT_NAME  # the GUI looks for it too, to offer continuing
WEIGHTS_NAME = "weights.pt"
CARD_NAME = "card.json"


def load_pairs(config: TrainConfig) -> list:
    """Training pairs from --project or --images/--masks, minus the hash-held-out test set."""
    if config.project is not None:
        from seggui.ml.training.project_data import pairs_from_project

        pairs = pairs_from_project(Path(config.project))
    else:
        pairs = training_data.find_pairs(config.images, config.masks)
    return _without_heldout(pairs, config)


def _without_heldout(pairs: list, config: TrainConfig) -> list:
    kept = [p for p in pairs if not training_data.heldout_by_hash(p.stem, config.holdout_hash_percent)]
    if pairs and not kept:
        raise TrainingError("every image falls in the held-out test split", config.images)
    return kept


@dataclass
class Split:
    samples: list  # every sample loaded, training first
    training: list
    validation: list  # scores the base and the new model; picks the best epoch
    measured: bool  # False: `validation` only picks the epoch, the comparison is not honest
    note: str = ""


def load_split(config: TrainConfig, load: Callable) -> Split:
    """Samples (`load(pair)`) split into training and validation.

    A project brings its fixed validation set (seggui.core.validation_set). When it has none,
    part of the training images still picks the best epoch, but those labels may be a model's
    own proposals, so the card says the comparison with the base was not measured.
    """
    if config.project is None:
        samples = [load(p) for p in _without_heldout(training_data.find_pairs(config.images, config.masks), config)]
        training, validation = training_data.split_validation(samples, config.validation_fraction, config.seed)
        return Split(samples, training, validation, True)
    from seggui.ml.training.project_data import project_pairs

    pairs = project_pairs(Path(config.project))
    training = [load(p) for p in _without_heldout(pairs.training, config)]
    validation = [load(p) for p in pairs.validation if not training_data.heldout_by_hash(
        p.stem, config.holdout_hash_percent)]
    if validation:
        return Split(training + validation, training, validation, True)
    picked, selection = training_data.split_validation(training, config.validation_fraction, config.seed)
    return Split(training, picked, selection, False, pairs.unmeasured_reason)


def honest_validation(split: Split, base_metrics, final_metrics) -> dict:
    """The card's `validation`: base and trained scores only when they mean something."""
    if split.measured:
        return {"base": base_metrics, "trained": final_metrics, "measured": True,
                "images": [s.stem for s in split.validation]}
    return {"base": None, "trained": None, "measured": False, "reason": split.note,
            "selection": {"base": base_metrics, "trained": final_metrics,
                          "images": [s.stem for s in split.validation]}}


class Clock:
    """Wall-clock budget that survives --resume (elapsed time is checkpointed)."""

    def __init__(self, already: float):
        self.start = time.monotonic() - already

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


def portable_path(value: str) -> str:
    """A path as a card may keep it: relative to where the run started when inside it,
    otherwise only its last part; a card never names another machine's folders."""
    path = Path(value)
    if not path.is_absolute():
        return value
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return path.name


def portable_command(command: str | None) -> str | None:
    if not command:
        return command
    return " ".join(portable_path(part) if part.startswith("/") else part for part in command.split(" "))


def portable_config(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if key == "command" and isinstance(value, str):
            value = portable_command(value)  # the CLI's own command line, kept in "extra"
        elif isinstance(value, str) and value.startswith("/"):
            value = portable_path(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = [portable_path(v) if v.startswith("/") else v for v in value]
        elif isinstance(value, dict):
            value = portable_config(value)
        out[key] = value
    return out


def lineage(base_info, config: TrainConfig, elapsed: float, images: int) -> list[dict]:
    """The base card's lineage (or, for an older card, its own run) followed by this run."""
    runs = []
    if base_info is not None:
        base_training = base_info.card.get("training") or {}
        earlier = base_training.get("lineage")
        if isinstance(earlier, list) and all(isinstance(run, dict) for run in earlier):
            runs = [dict(run) for run in earlier[:100]]
        else:
            duration = base_training.get("duration_s")
            runs = [{"model": base_info.name, "command": portable_command(base_training.get("command")),
                     "minutes": round(duration / 60, 1) if isinstance(duration, (int, float)) else None,
                     "images": len(base_training.get("images") or [])}]
    runs.append({"model": config.name or Path(config.out).name, "command": portable_command(config.extra.get("command")),
                 "minutes": round(elapsed / 60, 1), "images": images})
    return runs


def build_card(config: TrainConfig, model: dict, normalization: dict, postprocess: dict | None, base_info,
               samples, train_samples, val_samples, history, best_epoch, elapsed, stopped, parameters, world,
               validation: dict) -> dict:
    """The card.json of a finished run.

    `model` describes the network: its "kind", "task", "description", "architecture" and
    "classes". `postprocess` (the U-Net's watershed parameters) is left out when None;
    `validation` is `honest_validation(...)`."""
    import torchvision

    from seggui import __version__

    card = {
        "format": 1,
        "name": config.name or Path(config.out).name,
        "kind": model["kind"],
        "task": model["task"],
        "description": model["description"],
        "architecture": model["architecture"],
        "parameters": parameters,
        "classes": model["classes"],
        "normalization": normalization,
        "postprocess": postprocess,
        "base_model": None if base_info is None else {"name": base_info.name, "source": base_info.source},
        "training": {
            "command": portable_command(config.extra.get("command")),
            "config": portable_config(config.to_json()),
            "images": [{"stem": s.stem, "sha256": s.sha256} for s in samples],
            "train_images": [s.stem for s in train_samples],
            "validation_images": [s.stem for s in val_samples],
            "history": history,
            "best_epoch": best_epoch,
            "stopped": stopped,
            "duration_s": round(elapsed, 1),
            # This run and every run its base came from: the minutes the weights hold in all.
            "lineage": lineage(base_info, config, elapsed, len(samples)),
            "world_size": world,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "validation": validation,
        "versions": {
            "seggui": __version__,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    if postprocess is None:
        del card["postprocess"]
    return card
