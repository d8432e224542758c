"""How fast do the assisted tools answer on a large image? Click-to-add, box-to-cell and split
on a 2048 x 2048 image, through the real tool code (seggui.core.tools, no Qt).

    python benchmarks/assisted_latency.py [--size 2048] [--count 30] [--model nuclei] [--threads N]

The image is a real DSB2018 fluorescence image tiled to the size (its truth tiled the same way).
The model's maps are computed once first, as the app does in the background when an image is
pre-segmented (that time is printed apart, it is not a click's). Then, on the prediction's own
labels:
- add_cell: `--count` proposed cells are removed, and each is clicked back at its innermost point;
- box_cell: `--count` other cells are removed, and a box is dragged over each one's bounds;
- split: `--count` pairs of neighbouring cells are merged into one id, and split again with one
  click in each and Enter.
Each gesture is timed from press to the layer changed (one undo step), the way a person
waits for it. Prints one JSON object: per tool the median, 90th percentile and maximum in ms,
how many gestures changed the layer, and whether the maximum is within --budget-ms (100).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seggui.core.document import Document  # noqa: E402
from seggui.core.layers import LabelLayer  # noqa: E402
from seggui.core.tools import ToolController, ToolState  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "cells" / "dsb2018"
IMAGE = "00ae65c1c6631ae6f2be1a449902976e6eb8483bf6b0740d00530220832c6d3e"  # 256 x 320 nuclei, grey


def tiled(array: np.ndarray, size: int) -> np.ndarray:
    reps = (-(-size // array.shape[0]), -(-size // array.shape[1])) + (1,) * (array.ndim - 2)
    return np.tile(array, reps)[:size, :size]


def innermost(mask: np.ndarray) -> tuple[int, int]:
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), mask.shape)
    return int(row), int(col)


class Session:
    """One label layer, one controller, the image and its maps: the canvas without Qt."""

    def __init__(self, image: np.ndarray, labels: np.ndarray, probability: np.ndarray, scores: dict):
        self.document = Document()
        info = {int(cell): {"score": float(score)} for cell, score in scores.items()}
        self.layer = LabelLayer(labels.astype(np.uint32), instance_info=info)
        self.state = ToolState(only_background=True)
        self.controller = ToolController(self.document, self.state)
        self.controller.set_layer(self.layer)
        self.controller.image_source = lambda: image
        self.controller.probability_source = lambda: probability
        self.times: dict[str, list[float]] = {"add_cell": [], "box_cell": [], "split": []}
        self.changed: dict[str, int] = {name: 0 for name in self.times}

    def timed(self, name: str, gesture) -> None:
        steps = len(self.document.undo_stack)
        start = time.perf_counter()
        gesture()
        self.times[name].append((time.perf_counter() - start) * 1000.0)
        self.changed[name] += len(self.document.undo_stack) > steps

    def click(self, row: int, col: int) -> None:
        self.controller.press(col + 0.5, row + 0.5)
        self.controller.release(col + 0.5, row + 0.5)

    def add_cell(self, row: int, col: int) -> None:
        self.state.tool = "add_cell"
        self.timed("add_cell", lambda: self.click(row, col))

    def box_cell(self, y0: int, x0: int, y1: int, x1: int) -> None:
        self.state.tool = "box_cell"

        def drag():
            self.controller.press(float(x0), float(y0))
            self.controller.move(float(x1), float(y1))
            self.controller.release(float(x1), float(y1))
        self.timed("box_cell", drag)

    def split(self, points: list[tuple[int, int]]) -> None:
        self.state.tool = "split"

        def clicks_and_enter():
            for row, col in points:
                self.click(row, col)
            self.controller.finish_shape()
        self.timed("split", clicks_and_enter)


def neighbour_pairs(labels: np.ndarray, count: int, rng) -> list[tuple[int, int]]:
    """Pairs of distinct cells that touch or nearly touch (within 2 px), each cell in one pair."""
    grown = ndimage.grey_dilation(labels, size=5)
    touching = (labels > 0) & (grown > 0) & (grown != labels)
    pairs = sorted({(int(a), int(b)) for a, b in zip(labels[touching], grown[touching]) if a < b})
    rng.shuffle(pairs)
    used, chosen = set(), []
    for a, b in pairs:
        if a not in used and b not in used:
            chosen.append((a, b))
            used.update((a, b))
        if len(chosen) == count:
            break
    return chosen


def run(size: int, count: int, model: str, threads: int | None, budget_ms: float = 100.0,
        seed: int = 0) -> dict:
    from seggui.core.imageio import read_image
    from seggui.ml.registry import load_model

    rng = np.random.default_rng(seed)
    image = tiled(read_image(next((DATA / IMAGE / "images").iterdir())).array, size)
    predictor = load_model(model, "cpu", threads=threads)
    start = time.perf_counter()
    prediction = predictor.predict(image)
    maps_seconds = time.perf_counter() - start
    labels = prediction.labels.astype(np.uint32)
    ids = np.unique(labels[labels > 0])
    boxes = ndimage.find_objects(labels)
    pairs = neighbour_pairs(labels, count, rng)
    in_pairs = {cell for pair in pairs for cell in pair}
    singles = [int(cell) for cell in rng.permutation(ids) if int(cell) not in in_pairs]
    to_add, to_box = singles[:count], singles[count : 2 * count]
    layer = labels.copy()
    layer[np.isin(layer, to_add + to_box)] = 0
    points = {}
    for cell in to_add:
        window = boxes[cell - 1]
        row, col = innermost(labels[window] == cell)
        points[cell] = (row + window[0].start, col + window[1].start)
    split_points = []
    for a, b in pairs:  # b joins a: one cell to split back; clicks at each original's innermost point
        clicks = []
        for cell in (a, b):
            window = boxes[cell - 1]
            row, col = innermost(labels[window] == cell)
            clicks.append((row + window[0].start, col + window[1].start))
        layer[layer == b] = a
        split_points.append(clicks)
    session = Session(image, layer, prediction.probability, prediction.scores or {})
    for cell in to_add:
        session.add_cell(*points[cell])
    for cell in to_box:
        rows, cols = boxes[cell - 1]
        session.box_cell(max(0, rows.start - 1), max(0, cols.start - 1), rows.stop + 1, cols.stop + 1)
    for clicks in split_points:
        session.split(clicks)
    result = {"benchmark": "assisted_latency", "size": size, "cells": int(len(ids)), "model": model,
              "maps_seconds_once": round(maps_seconds, 2)}
    budget_ok = True
    for name, times in session.times.items():
        values = np.asarray(times) if times else np.zeros(1)
        result[name] = {"gestures": len(times), "changed_layer": session.changed[name],
                        "median_ms": round(float(np.median(values)), 1),
                        "p90_ms": round(float(np.percentile(values, 90)), 1),
                        "max_ms": round(float(values.max()), 1)}
        budget_ok &= float(values.max()) <= budget_ms
    result["within_budget"] = bool(budget_ok)
    return result



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--model", default="nuclei")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--budget-ms", type=float, default=100.0)
    args = parser.parse_args()
    print(json.dumps(run(args.size, args.count, args.model, args.threads, args.budget_ms)))


if __name__ == "__main__":
    main()
