"""How many actions does a person need to fix a model's proposal, by hand and with the assisted tools?

    python benchmarks/correction_effort.py --images DIR [--masks DIR] --model NAME
        [--json OUT.json] [--verbose] [--skip N] [--limit N] [--threads N] [--heldout]

    e.g. python benchmarks/correction_effort.py --images ../shared/data/cells/dsb2018 \\
        --model nuclei --limit 8 --threads 1

Images and instance label images are matched by stem (seggui.ml.training.data.find_pairs; a
DSB2018-layout folder needs no --masks). A simulated person corrects the model's proposal
towards the ground truth with the real tool code (seggui.core.tools, no Qt), twice from the
same proposal:

Errors are found once, at the start, by one-to-one matching (IoU >= 0.5) of the proposal
with the truth: a merged cell (one proposed cell covering at least half of each of two or
more true cells), a split cell (a true cell with at least two proposed cells each having at
least half of its area inside it), a missed cell (a true cell unmatched) and a false cell (a
proposed cell unmatched); a cell in a merged or split error is not also missed or false.

manual: false -> delete (1 action); missed -> polygon of max(4, ceil(perimeter / 12 px))
    vertices along the true outline, one action per vertex, filling background only;
    merged -> delete (1) plus a polygon per true cell; split -> merge (2 per extra piece),
    and when the merged cell still misses the true cell (IoU < 0.5: the pieces cover too
    little of it), delete it (1) and draw the polygon.
assisted, in review-queue order (errors of proposed cells by score ascending, then missed
    cells): false -> delete (1); missed -> add_cell click at the cell's innermost point (1),
    kept when it matches the true cell (IoU >= 0.5), else undo (1) and box_cell over the
    true bounding box (2), same rule, else undo (1) and the manual polygon; merged -> split
    clicks, one per true cell at its innermost point (Enter is free), kept when every part
    matches its true cell, else undo (1) and the manual fix; split -> merge (2 per piece),
    and when the merged cell still misses the true cell, delete it (1) and add the cell as a
    missed one (click, box, polygon).
    The tools get the image and the prediction's probability map.

Printed: one JSON object with the action totals, AP@0.5 = TP / (TP + FP + FN) pooled over
images before and after each pass, and the median / max time of the assisted operations
(add_cell, box_cell, split), how often each assisted step was kept (assisted_outcomes);
--verbose adds per-image rows. --heldout keeps only the images of the bundled model's test
split (seggui.ml.dsb.heldout_pairs: ids hashing into the bottom 15 %, never trained on), the
fair set for the bundled model; it can be given several --images folders.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seggui.core.document import Document  # noqa: E402
from seggui.core.layers import LabelLayer  # noqa: E402
from seggui.core.tools import ToolController, ToolState  # noqa: E402
from seggui.ml.metrics import iou_matrix, match  # noqa: E402

MATCH_IOU = 0.5
VERTEX_SPACING = 12.0  # px of outline per polygon vertex
MIN_VERTICES = 4
KINDS = ("missed", "false", "merged", "split")
OUTCOMES = ("add_cell_kept", "box_cell_kept", "missed_by_polygon", "split_kept", "merged_by_hand",
            "pieces_merged", "pieces_redrawn")


@dataclass
class Error:
    kind: str  # one of KINDS
    true_ids: list[int] = field(default_factory=list)  # ground-truth cells involved
    pred_ids: list[int] = field(default_factory=list)  # proposed cells involved
    score: float = 1.0  # review-queue key: the lowest score of its proposed cells

    def to_json(self) -> dict:
        return {"kind": self.kind, "true_ids": self.true_ids, "pred_ids": self.pred_ids}


# ----------------------------------------------------------------------------- errors


def _ids(labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels)
    return ids[ids != 0]


def _overlap(true: np.ndarray, pred: np.ndarray, true_ids: np.ndarray, pred_ids: np.ndarray) -> np.ndarray:
    """Pixel counts shared by every true (rows) and proposed (columns) cell."""
    t = np.searchsorted(true_ids, true.ravel())
    p = np.searchsorted(pred_ids, pred.ravel())
    t_in = true.ravel() != 0
    p_in = pred.ravel() != 0
    keep = t_in & p_in
    counts = np.bincount(t[keep].astype(np.int64) * len(pred_ids) + p[keep],
                         minlength=len(true_ids) * len(pred_ids))
    return counts.reshape(len(true_ids), len(pred_ids))


def find_errors(truth: np.ndarray, labels: np.ndarray, scores: dict[int, float] | None = None) -> list[Error]:
    """The proposal's errors against the truth (see the module docstring for the rules)."""
    scores = scores or {}
    true_ids, pred_ids = _ids(truth), _ids(labels)
    if len(true_ids) == 0 and len(pred_ids) == 0:
        return []
    iou = iou_matrix(truth, labels)  # rows: sorted true ids, columns: sorted proposed ids
    overlap = _overlap(truth, labels, true_ids, pred_ids)
    true_area = np.bincount(np.searchsorted(true_ids, truth[truth != 0]), minlength=len(true_ids))
    pred_area = np.bincount(np.searchsorted(pred_ids, labels[labels != 0]), minlength=len(pred_ids))

    # One-to-one matches at IoU >= 0.5 (above 0.5 unique; ties at exactly 0.5 taken greedily).
    matched_true, matched_pred = set(), set()
    if iou.size:
        rows, cols = np.nonzero(iou >= MATCH_IOU)
        for r, c in sorted(zip(rows.tolist(), cols.tolist()), key=lambda rc: -iou[rc]):
            if r not in matched_true and c not in matched_pred:
                matched_true.add(r)
                matched_pred.add(c)

    def score_of(columns) -> float:
        return min((float(scores.get(int(pred_ids[c]), 1.0)) for c in columns), default=1.0)

    errors: list[Error] = []
    used_true, used_pred = set(), set()
    # Merged: a proposed cell covering at least half of each of two or more true cells.
    covers = overlap * 2 >= true_area[:, None]
    for c in range(len(pred_ids)):
        covered = np.nonzero(covers[:, c])[0].tolist()
        if len(covered) >= 2:
            errors.append(Error("merged", [int(true_ids[r]) for r in covered], [int(pred_ids[c])], score_of([c])))
            used_true.update(covered)
            used_pred.add(c)
    # Split: a true cell with several proposed cells each at least half inside it.
    inside = overlap * 2 >= pred_area[None, :]
    for r in range(len(true_ids)):
        if r in used_true:
            continue
        pieces = [c for c in np.nonzero(inside[r])[0].tolist() if c not in used_pred]
        if len(pieces) >= 2:
            errors.append(Error("split", [int(true_ids[r])], [int(pred_ids[c]) for c in pieces], score_of(pieces)))
            used_true.add(r)
            used_pred.update(pieces)
    for c in range(len(pred_ids)):
        if c not in matched_pred and c not in used_pred:
            errors.append(Error("false", [], [int(pred_ids[c])], score_of([c])))
    for r in range(len(true_ids)):
        if r not in matched_true and r not in used_true:
            errors.append(Error("missed", [int(true_ids[r])], [], 1.0))
    return errors


def review_order(errors: list[Error]) -> list[Error]:
    """The review queue: errors of proposed cells by score ascending, missed cells after them."""
    proposed = sorted((e for e in errors if e.kind != "missed"), key=lambda e: e.score)
    return proposed + [e for e in errors if e.kind == "missed"]


def counts(truth: np.ndarray, labels: np.ndarray) -> tuple[int, int, int]:
    """TP, FP, FN at IoU 0.5 (seggui.ml.metrics)."""
    result = match(iou_matrix(truth, labels), MATCH_IOU)
    return result.tp, result.fp, result.fn


def ap_of(tp: int, fp: int, fn: int) -> float:
    total = tp + fp + fn
    return tp / total if total else 1.0


# ----------------------------------------------------------------------------- the person


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else 0.0


def innermost(mask: np.ndarray) -> tuple[int, int] | None:
    """(row, col) of the mask's pixel farthest from its edge (argmax of the distance transform)."""
    if not mask.any():
        return None
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), mask.shape)
    return int(row), int(col)


def outline_vertices(mask: np.ndarray) -> np.ndarray:
    """max(4, ceil(perimeter / 12)) points (x, y, image coordinates) evenly along the outer outline."""
    from skimage.measure import find_contours

    contours = find_contours(np.pad(mask, 1).astype(np.float32), 0.5)
    if not contours:
        return np.zeros((0, 2))
    contour = max(contours, key=len) - 1.0  # (row, col) in pixel indices, padding removed
    if not np.allclose(contour[0], contour[-1]):
        contour = np.vstack([contour, contour[:1]])
    steps = np.hypot(*np.diff(contour, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    perimeter = float(along[-1])
    n = max(MIN_VERTICES, math.ceil(perimeter / VERTEX_SPACING))
    at = np.arange(n) * perimeter / n
    rows = np.interp(at, along, contour[:, 0])
    cols = np.interp(at, along, contour[:, 1])
    # Pixel (r, c) spans [c, c + 1) x [r, r + 1): its centre is (c + 0.5, r + 0.5).
    return np.stack([cols + 0.5, rows + 0.5], axis=1)


class Person:
    """Drives one ToolController on one label layer and counts the actions taken."""

    def __init__(self, labels: np.ndarray, truth: np.ndarray, image: np.ndarray | None = None,
                 probability: np.ndarray | None = None, scores: dict[int, float] | None = None):
        self.document = Document()
        data = labels.astype(np.uint32 if int(labels.max(initial=0)) > 65535 else np.uint16)
        # As an accepted proposal leaves the layer (seggui.core.proposals): each cell its score.
        info = {int(cell): {"score": float(score)} for cell, score in (scores or {}).items()}
        self.layer = LabelLayer(data.copy(), instance_info=info)
        self.state = ToolState(only_background=True)
        self.controller = ToolController(self.document, self.state)
        self.controller.set_layer(self.layer)
        self.controller.pick_tolerance = 0.25  # polygon vertices are never closing clicks
        self.controller.image_source = (lambda: image) if image is not None else None
        self.controller.probability_source = (lambda: probability) if probability is not None else None
        self.truth = truth
        self.actions = 0
        self.timings_ms: list[float] = []
        self.outcomes: dict[str, int] = {}  # which assisted step fixed each error

    # gestures -----------------------------------------------------------------
    def use(self, tool: str) -> None:
        self.state.tool = tool

    def click(self, row: int, col: int) -> None:
        x, y = col + 0.5, row + 0.5
        self.controller.press(x, y)
        self.controller.release(x, y)
        self.actions += 1

    def undo(self) -> None:
        self.document.undo_stack.undo()
        self.actions += 1

    def history(self) -> int:
        return len(self.document.undo_stack)

    def cell_point(self, instance_id: int, within: np.ndarray | None = None) -> tuple[int, int] | None:
        mask = self.layer.data == instance_id
        if within is not None:
            mask &= within
        return innermost(mask)

    # fixes --------------------------------------------------------------------
    def delete(self, instance_id: int) -> None:
        point = self.cell_point(instance_id)
        if point is None:
            return
        self.use("delete")
        self.click(*point)

    def merge(self, pieces: list[int]) -> int | None:
        """Merge the other pieces into the largest one: 2 clicks per extra piece. Returns the
        id of the merged cell (None when no piece is left)."""
        present = [p for p in pieces if (self.layer.data == p).any()]
        if len(present) < 2:
            return present[0] if present else None
        keep = max(present, key=lambda p: int((self.layer.data == p).sum()))
        self.use("merge")
        for other in present:
            if other == keep:
                continue
            self.click(*self.cell_point(keep))
            self.click(*self.cell_point(other))
        return keep

    def join_split(self, error: Error, redraw) -> None:
        """Merge the pieces of a split cell; when the pieces together still miss the true cell
        (IoU < 0.5: they cover too little of it), delete the merged cell (1) and draw the cell
        again with `redraw(true_id)` (the polygon by hand, the assisted click otherwise)."""
        true_id = error.true_ids[0]
        kept = self.merge(error.pred_ids)
        if kept is not None and _iou(self.layer.data == kept, self.truth == true_id) >= MATCH_IOU:
            return self.outcome("pieces_merged")
        if kept is not None:
            self.delete(kept)
        self.outcome("pieces_redrawn")
        redraw(true_id)

    def polygon(self, true_id: int) -> None:
        """Outline a true cell by clicking vertices along it; Enter closes (not counted)."""
        points = outline_vertices(self.truth == true_id)
        if len(points) < 3:
            return
        # Start on background so that the polygon makes a new cell rather than growing a neighbour.
        height, width = self.layer.shape
        cols = np.clip(np.floor(points[:, 0]).astype(int), 0, width - 1)
        rows = np.clip(np.floor(points[:, 1]).astype(int), 0, height - 1)
        free = np.nonzero(self.layer.data[rows, cols] == 0)[0]
        pinned = False
        if free.size:
            points = np.roll(points, -int(free[0]), axis=0)
        else:  # every vertex on a cell: choose a new label first ("New instance")
            self.controller.new_instance()
            pinned = True
        self.use("polygon")
        for x, y in points:
            self.controller.press(float(x), float(y))
            self.controller.release(float(x), float(y))
            self.actions += 1
        self.controller.finish_shape()
        if pinned:
            self.state.label_pinned = False

    def manual_merged(self, error: Error) -> None:
        self.delete(error.pred_ids[0])
        for true_id in error.true_ids:
            self.polygon(true_id)

    def outcome(self, name: str) -> None:
        self.outcomes[name] = self.outcomes.get(name, 0) + 1

    def timed(self, call) -> None:
        start = time.perf_counter()
        call()
        self.timings_ms.append((time.perf_counter() - start) * 1000.0)

    def added_cell(self, before: np.ndarray) -> np.ndarray | None:
        """The mask of the cell the last add_cell / box_cell made, None if nothing was added."""
        changed = (before == 0) & (self.layer.data != 0)
        if not changed.any():
            return None
        values, number = np.unique(self.layer.data[changed], return_counts=True)
        return self.layer.data == values[int(np.argmax(number))]

    def add_missed(self, true_id: int) -> None:
        """add_cell click, else box_cell, else the polygon; undo whatever did not match."""
        true_mask = self.truth == true_id
        point = innermost(true_mask & (self.layer.data == 0))
        if point is not None:
            before, steps = self.layer.data.copy(), self.history()
            self.use("add_cell")
            self.timed(lambda: self.click(*point))
            added = self.added_cell(before)
            if added is not None and _iou(added, true_mask) >= MATCH_IOU:
                return self.outcome("add_cell_kept")
            if self.history() > steps:
                self.undo()
            rows, cols = np.nonzero(true_mask)
            height, width = self.layer.shape
            x0, y0 = max(cols.min() - 1, 0), max(rows.min() - 1, 0)
            x1, y1 = min(cols.max() + 2, width), min(rows.max() + 2, height)
            before, steps = self.layer.data.copy(), self.history()
            self.use("box_cell")
            self.controller.press(float(x0), float(y0))
            self.actions += 1
            self.controller.move(float(x1), float(y1))
            self.timed(lambda: self.controller.release(float(x1), float(y1)))
            self.actions += 1
            added = self.added_cell(before)
            if added is not None and _iou(added, true_mask) >= MATCH_IOU:
                return self.outcome("box_cell_kept")
            if self.history() > steps:
                self.undo()
        self.outcome("missed_by_polygon")
        self.polygon(true_id)

    def split_merged(self, error: Error) -> None:
        """One split click per true cell inside the merged cell, then Enter; else the manual fix."""
        cell_id = error.pred_ids[0]
        cell = self.layer.data == cell_id
        seeds = []
        for true_id in error.true_ids:
            point = innermost(cell & (self.truth == true_id))
            if point is not None:
                seeds.append((true_id, point))
        if len(seeds) >= 2:
            steps = self.history()
            self.use("split")
            for _, point in seeds:
                self.click(*point)
            self.timed(self.controller.finish_shape)  # Enter: not an action
            if self.history() > steps:
                parts = [int(self.layer.data[row, col]) for _, (row, col) in seeds]
                good = len(set(parts)) == len(parts) and len(seeds) == len(error.true_ids) and all(
                    _iou(self.layer.data == part, self.truth == true_id) >= MATCH_IOU
                    for part, (true_id, _) in zip(parts, seeds))
                if good:
                    return self.outcome("split_kept")
                self.undo()
        self.outcome("merged_by_hand")
        self.manual_merged(error)


# ----------------------------------------------------------------------------- regimes


def correct(regime: str, image: np.ndarray | None, truth: np.ndarray, labels: np.ndarray,
            errors: list[Error], probability: np.ndarray | None = None,
            scores: dict[int, float] | None = None) -> Person:
    """One pass of a regime ("manual" or "assisted") over the errors; returns the person."""
    if regime == "manual":
        person = Person(labels, truth, scores=scores)
        queue = errors
    elif regime == "assisted":
        person = Person(labels, truth, image, probability, scores)
        queue = review_order(errors)
    else:
        raise ValueError(f"unknown regime {regime!r}")
    for error in queue:
        if error.kind == "false":
            person.delete(error.pred_ids[0])
        elif error.kind == "split":
            person.join_split(error, person.polygon if regime == "manual" else person.add_missed)
        elif error.kind == "missed":
            if regime == "manual":
                person.polygon(error.true_ids[0])
            else:
                person.add_missed(error.true_ids[0])
        elif error.kind == "merged":
            if regime == "manual":
                person.manual_merged(error)
            else:
                person.split_merged(error)
    return person


def simulate(image: np.ndarray, truth: np.ndarray, prediction) -> dict:
    """Both regimes on one image. `prediction` has .labels, .scores (id -> confidence) and
    .probability (or None). Returns errors, actions, TP/FP/FN before and after, timings."""
    truth = np.asarray(truth).astype(np.int64)
    labels = np.asarray(prediction.labels)
    errors = find_errors(truth, labels, getattr(prediction, "scores", None))
    before = counts(truth, labels)
    result = {
        "errors": [e.to_json() for e in errors],
        "errors_by_kind": {kind: sum(e.kind == kind for e in errors) for kind in KINDS},
        "before": before,
        "ap50_before": ap_of(*before),
    }
    probability = getattr(prediction, "probability", None)
    for regime in ("manual", "assisted"):
        person = correct(regime, image, truth, labels, errors, probability, getattr(prediction, "scores", None))
        after = counts(truth, person.layer.data)
        result[f"{regime}_actions"] = person.actions
        result[f"{regime}_after"] = after
        result[f"{regime}_ap50_after"] = ap_of(*after)
        if regime == "assisted":
            result["assisted_ms"] = person.timings_ms
            result["assisted_outcomes"] = person.outcomes
    return result


def pooled(rows: list[dict], key: str) -> float:
    tp, fp, fn = (sum(row[key][i] for row in rows) for i in range(3))
    return ap_of(tp, fp, fn)


def summarize(rows: list[dict], stems: list[str], verbose: bool = False) -> dict:
    timings = [t for row in rows for t in row["assisted_ms"]]
    summary = {
        "images": len(rows),
        "errors_before": sum(len(row["errors"]) for row in rows),
        "manual_actions": sum(row["manual_actions"] for row in rows),
        "assisted_actions": sum(row["assisted_actions"] for row in rows),
        "manual_ap50_after": round(pooled(rows, "manual_after"), 4) if rows else None,
        "assisted_ap50_after": round(pooled(rows, "assisted_after"), 4) if rows else None,
        "ap50_before": round(pooled(rows, "before"), 4) if rows else None,
        "errors_by_kind": {kind: sum(row["errors_by_kind"][kind] for row in rows) for kind in KINDS},
        "assisted_ms_median": round(float(np.median(timings)), 1) if timings else None,
        "assisted_ms_max": round(float(np.max(timings)), 1) if timings else None,
        "assisted_operations": len(timings),
        "assisted_outcomes": {name: sum(row["assisted_outcomes"].get(name, 0) for row in rows)
                              for name in OUTCOMES},
    }
    if verbose:
        summary["per_image"] = [
            {"stem": stem, "errors": row["errors_by_kind"], "manual_actions": row["manual_actions"],
             "assisted_actions": row["assisted_actions"], "ap50_before": round(row["ap50_before"], 4),
             "manual_ap50_after": round(row["manual_ap50_after"], 4),
             "assisted_ap50_after": round(row["assisted_ap50_after"], 4)}
            for stem, row in zip(stems, rows)]
    return summary


def run(images: Path | list[Path], masks: Path | None, model: str, limit: int | None = None,
        threads: int | None = None, verbose: bool = False, skip: int = 0,
        heldout: bool = False) -> dict:
    import torch

    from seggui.core.imageio import read_image
    from seggui.ml.dsb import heldout_pairs
    from seggui.ml.registry import load_model
    from seggui.ml.training.data import find_pairs, read_labels

    if threads:
        torch.set_num_threads(threads)
    folders = images if isinstance(images, list) else [images]
    if heldout:
        found = [pair for folder in folders for pair in heldout_pairs(folder)]
    else:
        found = [pair for folder in folders for pair in find_pairs(folder, masks)]
    pairs = sorted(found, key=lambda pair: pair.stem)
    pairs = pairs[skip:]  # by stem: --skip 220 --limit 142 is a set the first images never see
    if limit:
        pairs = pairs[:limit]
    predictor = load_model(model, "cpu", threads=threads)
    rows, stems = [], []
    for pair in pairs:
        image = read_image(pair.image_path).array
        truth = read_labels(pair.mask_paths)
        if pair.ignore_ids:
            truth = np.where(np.isin(truth, pair.ignore_ids), 0, truth)
        prediction = predictor.predict(image)
        rows.append(simulate(image, truth, prediction))
        stems.append(pair.stem)
    return summarize(rows, stems, verbose)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True, nargs="+")
    parser.add_argument("--masks", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N images (by stem)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--heldout", action="store_true",
                        help="only the bundled model's held-out test split (DSB2018 layout)")
    args = parser.parse_args(argv)
    if len(args.images) > 1 and args.masks:
        parser.error("--masks goes with a single --images folder")
    result = run(args.images, args.masks, args.model, args.limit, args.threads, args.verbose, args.skip,
                 args.heldout)
    text = json.dumps(result)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
