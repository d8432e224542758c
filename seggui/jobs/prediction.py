"""Pre-segmentation as a background job: load a model once, predict a list of images.

Runs in a `Job` worker thread. It never touches Document or ImageEntry objects (they belong
to the GUI thread): each image arrives either as an array already in memory or as a file
path read here. Each image's result is handed to `deliver` as soon as it is ready, so a
batch applies results one by one and an image that fails does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from seggui.jobs.worker import JobCancelled, JobContext

STEPS_PER_IMAGE = 1000  # progress resolution inside one image (tiles done)


@dataclass
class PredictionTask:
    key: str  # the image's id, to find its entry again on the GUI thread
    name: str
    array: np.ndarray | None = None  # pixels already in memory, or
    path: Path | None = None  # a file to read (with `page`)
    page: int = 0


@dataclass
class PredictionResult:
    key: str
    name: str
    model: str
    labels: np.ndarray | None = None
    error: str | None = None
    seconds: float = 0.0
    # Confidence in [0, 1] per cell id of `labels` and for the image (seggui.ml.confidence),
    # the same numbers `seggui predict --scores` writes.
    scores: dict[int, float] = field(default_factory=dict)
    image_score: float | None = None
    probability: np.ndarray | None = None  # foreground probability, for click-to-add


def predict_images(context: JobContext, model: str, tasks: list[PredictionTask], options=None,
                   deliver: Callable[[PredictionResult], None] | None = None,
                   device: str = "auto", threads: int | None = None) -> list[PredictionResult]:
    """Predict every task with `model` (a name or folder); returns all results in order.

    A model that cannot load fails the whole job; an image that fails gives a result with
    `error` and the batch goes on.
    """
    from seggui.core.imageio import read_image
    from seggui.ml.batch import predict_each
    from seggui.ml.inference import PredictionCancelled
    from seggui.ml.registry import load_model

    total = len(tasks) * STEPS_PER_IMAGE
    context.progress(0, 0, f"loading model {Path(str(model)).name}…")
    predictor = load_model(model, device=device, threads=threads)

    def prefix(index: int) -> str:
        return f"{tasks[index].name} ({index + 1}/{len(tasks)})"

    def started(index: int, task: PredictionTask) -> None:
        context.progress(index * STEPS_PER_IMAGE, total, prefix(index))

    def on_tiles(index: int, done: int, count: int) -> None:
        part = int(STEPS_PER_IMAGE * done / max(1, count))
        context.progress(index * STEPS_PER_IMAGE + part, total, f"{prefix(index)}: {done}/{count} tiles")

    def read(task: PredictionTask) -> np.ndarray:
        return task.array if task.array is not None else read_image(task.path, page=task.page).array

    results = []
    try:
        # Every exception is reported per image (the batch continues); cancelling is not.
        for outcome in predict_each(predictor, tasks, read, options, started=started, progress=on_tiles,
                                    cancelled=lambda: context.cancelled, errors=(Exception,)):
            task, error, prediction = outcome.item, outcome.error, outcome.prediction
            if error is not None:
                result = PredictionResult(task.key, task.name, predictor.name,
                                          error=f"{type(error).__name__}: {error}" if not str(error) else str(error))
            else:
                result = PredictionResult(task.key, task.name, predictor.name, labels=prediction.labels,
                                          scores=dict(prediction.scores or {}), image_score=prediction.image_score,
                                          probability=prediction.probability)
            result.seconds = outcome.seconds
            results.append(result)
            if deliver is not None:
                deliver(result)
    except PredictionCancelled:
        raise JobCancelled() from None
    context.progress(total, total, "done")
    return results
