"""How often does a box around a missed cell bring it back, tight and loose? Through the real
tool code (seggui.core.box_cell.box_cell_mask, as the `O` tool calls it).

    python benchmarks/boxed_cells.py --images DIR [--masks DIR] [--model nuclei]
        [--skip N] [--limit N] [--grow 0,0.15,0.3] [--all] [--threads N] [--json OUT.json]

    e.g. python benchmarks/boxed_cells.py --images ../shared/data/cells/dsb2018-extra \\
        --skip 220 --limit 142 --threads 2

For each image (pairs by stem, seggui.ml.training.data.find_pairs) the model's proposal is
made as the app makes it, and its missed cells are found as the correction benchmark finds
them (benchmarks/correction_effort.py: one-to-one matching at IoU >= 0.5). As in that
benchmark's assisted regime, a missed cell is first clicked at its innermost unlabelled point
(add_cell); the cells the click does not bring back (IoU < 0.5; with --all, every missed
cell) are boxed: by their bounds and 1 px (as the correction benchmark boxes them) and by
boxes grown by each --grow fraction of the cell's height and width on each side, since a
person's box is seldom tight. A box finds its cell when the added cell matches it at
IoU >= 0.5. Prints one JSON object: the counts of missed cells, of cells the click found, of
cells boxed, and per growth how many boxes found their cell.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seggui.core.assisted import add_cell_mask  # noqa: E402
from seggui.core.box_cell import box_cell_mask  # noqa: E402

MATCH_IOU = 0.5


def _correction_benchmark():
    """benchmarks/ is not a package: its error rules are loaded from the script by path."""
    name = "correction_effort_benchmark"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("correction_effort.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]


def _placed(found, shape) -> np.ndarray:
    full = np.zeros(shape, bool)
    if found is not None:
        (y0, x0, y1, x1), mask = found
        full[y0:y1, x0:x1] = mask
    return full


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0


def grown_box(cell: np.ndarray, grow: float) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1): the cell's bounds and 1 px, grown by `grow` of its size each side."""
    rows, cols = np.nonzero(cell)
    height, width = cell.shape
    dy = int(round(grow * (rows.max() + 1 - rows.min())))
    dx = int(round(grow * (cols.max() + 1 - cols.min())))
    return (max(rows.min() - 1 - dy, 0), max(cols.min() - 1 - dx, 0),
            min(rows.max() + 2 + dy, height), min(cols.max() + 2 + dx, width))


def boxed(image: np.ndarray, truth: np.ndarray, labels: np.ndarray, probability: np.ndarray | None,
          grows: list[float], every: bool = False) -> dict:
    """Counts for one image (see the module docstring)."""
    bench = _correction_benchmark()
    counts = {"missed": 0, "click_found": 0, "boxed": 0, "box_found": {str(g): 0 for g in grows}}
    for error in bench.find_errors(truth, labels):
        if error.kind != "missed":
            continue
        cell = truth == error.true_ids[0]
        point = bench.innermost(cell & (labels == 0))
        if point is None:
            continue
        counts["missed"] += 1
        clicked = _placed(add_cell_mask(image, point[1] + 0.5, point[0] + 0.5, labels, probability), cell.shape)
        if _iou(clicked, cell) >= MATCH_IOU:
            counts["click_found"] += 1
            if not every:
                continue
        counts["boxed"] += 1
        for grow in grows:
            found = _placed(box_cell_mask(image, grown_box(cell, grow), labels, probability), cell.shape)
            counts["box_found"][str(grow)] += _iou(found, cell) >= MATCH_IOU
    return counts


def run(images: Path, masks: Path | None, model: str, grows: list[float], skip: int = 0,
        limit: int | None = None, every: bool = False, threads: int | None = None) -> dict:
    import torch

    from seggui.core.imageio import read_image
    from seggui.ml.registry import load_model
    from seggui.ml.training.data import find_pairs, read_labels

    if threads:
        torch.set_num_threads(threads)
    pairs = sorted(find_pairs(images, masks), key=lambda pair: pair.stem)[skip:]
    if limit:
        pairs = pairs[:limit]
    predictor = load_model(model, "cpu", threads=threads)
    total = {"images": len(pairs), "missed": 0, "click_found": 0, "boxed": 0,
             "box_found": {str(g): 0 for g in grows}}
    for pair in pairs:
        image = read_image(pair.image_path).array
        truth = np.asarray(read_labels(pair.mask_paths)).astype(np.int64)
        if pair.ignore_ids:
            truth = np.where(np.isin(truth, pair.ignore_ids), 0, truth)
        prediction = predictor.predict(image)
        counts = boxed(image, truth, np.asarray(prediction.labels), prediction.probability, grows, every)
        for key in ("missed", "click_found", "boxed"):
            total[key] += counts[key]
        for grow, found in counts["box_found"].items():
            total["box_found"][grow] += found
    return total


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--masks", type=Path)
    parser.add_argument("--model", default="nuclei")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N images (by stem)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--grow", default="0,0.15,0.3", help="box growths, fractions of the cell's size per side")
    parser.add_argument("--all", action="store_true", help="box every missed cell, not only those the click misses")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    grows = [float(value) for value in args.grow.split(",") if value.strip()]
    result = run(args.images, args.masks, args.model, grows, args.skip, args.limit, args.all, args.threads)
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
