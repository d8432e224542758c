"""The one prediction loop over a batch of images, shared by the GUI's pre-segment job
(seggui.jobs.prediction) and `seggui predict` (seggui.ml.cli_predict).

No Qt here (ml never imports Qt): the loop reads each item, calls `predictor.predict`, times it and
yields the outcome, one item at a time, so a caller can write or show each result as soon
as it is ready and an image that fails does not stop the others. What to do with a result
(write files, hand it to the GUI thread) and how to word an error stay with the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np


@dataclass
class Outcome:
    index: int
    item: Any
    prediction: Any = None  # a seggui.ml.inference.Prediction, or None when `error` is set
    error: BaseException | None = None
    seconds: float = 0.0  # reading and predicting this item


def predict_each(predictor, items: Iterable[Any], read: Callable[[Any], np.ndarray], options=None, *,
                 started: Callable[[int, Any], None] | None = None,
                 progress: Callable[[int, int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None,
                 errors: tuple[type[BaseException], ...] = (Exception,)) -> Iterator[Outcome]:
    """Predict every item in turn, yielding an `Outcome` per item.

    `read(item)` gives the item's pixels. `started(index, item)` is called before each item,
    `progress(index, done, parts)` as its tiles are done. `cancelled()` is checked before each
    item and inside `predict`; when it returns True, PredictionCancelled is raised (never
    reported as an item's error). An exception of the `errors` types while reading or
    predicting is the item's `error` and the loop goes on; any other propagates.
    """
    from seggui.ml.inference import PredictionCancelled

    for index, item in enumerate(items):
        if cancelled is not None and cancelled():
            raise PredictionCancelled()
        if started is not None:
            started(index, item)

        def on_tiles(done: int, parts: int, index=index) -> None:
            if progress is not None:
                progress(index, done, parts)

        start = time.perf_counter()
        try:
            prediction = predictor.predict(read(item), options, progress=on_tiles, cancelled=cancelled)
        except PredictionCancelled:
            raise
        except errors as error:
            yield Outcome(index, item, error=error, seconds=time.perf_counter() - start)
            continue
        yield Outcome(index, item, prediction=prediction, seconds=time.perf_counter() - start)
