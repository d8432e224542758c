"""Instance segmentation metrics in the StarDist / DSB2018 sense.

AP at an IoU threshold = TP / (TP + FP + FN) with one-to-one matching (a predicted and a
true object match when IoU > threshold; above 0.5 a match is necessarily unique, below we
use optimal assignment). Averaged over IoU 0.5:0.95 like the DSB leaderboard.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 1.0, 0.05), 2).tolist())


def _relabel(labels: np.ndarray) -> tuple[np.ndarray, int]:
    ids, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape)
    if ids[0] != 0:
        return inverse + 1, ids.size
    return inverse, ids.size - 1


def iou_matrix(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU between every true (rows) and predicted (columns) instance, background excluded."""
    if true.shape != pred.shape:
        raise ValueError(f"label images differ in shape: {true.shape} vs {pred.shape}")
    true_seq, n_true = _relabel(np.asarray(true))
    pred_seq, n_pred = _relabel(np.asarray(pred))
    overlap = np.bincount(
        true_seq.ravel().astype(np.int64) * (n_pred + 1) + pred_seq.ravel(),
        minlength=(n_true + 1) * (n_pred + 1),
    ).reshape(n_true + 1, n_pred + 1)
    true_area = overlap.sum(axis=1, keepdims=True)
    pred_area = overlap.sum(axis=0, keepdims=True)
    union = true_area + pred_area - overlap
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, overlap / union, 0.0)
    return iou[1:, 1:]


@dataclass
class MatchResult:
    threshold: float
    tp: int
    fp: int
    fn: int
    matched_dice: list[float]

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0

    @property
    def ap(self) -> float:
        denominator = self.tp + self.fp + self.fn
        # Two empty images agree perfectly.
        return self.tp / denominator if denominator else 1.0


def match(iou: np.ndarray, threshold: float) -> MatchResult:
    n_true, n_pred = iou.shape
    if n_true == 0 or n_pred == 0:
        return MatchResult(threshold, 0, n_pred, n_true, [])
    if threshold >= 0.5:
        # IoU > 0.5 pairs are unique on both sides: no assignment problem to solve.
        rows, cols = np.nonzero(iou > threshold)
    else:
        rows, cols = linear_sum_assignment(-iou)
        keep = iou[rows, cols] > threshold
        rows, cols = rows[keep], cols[keep]
    values = iou[rows, cols]
    dice = (2 * values / (1 + values)).tolist()
    tp = int(rows.size)
    return MatchResult(threshold, tp, n_pred - tp, n_true - tp, dice)


@dataclass
class ImageScores:
    ap50: float
    ap50_95: float
    precision: float
    recall: float
    f1: float
    mean_dice: float
    n_true: int
    n_pred: int
    tp50: int
    fp50: int
    fn50: int

    def to_json(self) -> dict:
        return asdict(self)


def score_image(true: np.ndarray, pred: np.ndarray) -> tuple[ImageScores, list[MatchResult]]:
    iou = iou_matrix(true, pred)
    results = [match(iou, t) for t in IOU_THRESHOLDS]
    first = results[0]
    scores = ImageScores(
        ap50=first.ap,
        ap50_95=float(np.mean([r.ap for r in results])),
        precision=first.precision,
        recall=first.recall,
        f1=first.f1,
        mean_dice=float(np.mean(first.matched_dice)) if first.matched_dice else 0.0,
        n_true=iou.shape[0],
        n_pred=iou.shape[1],
        tp50=first.tp,
        fp50=first.fp,
        fn50=first.fn,
    )
    return scores, results


def average_precision(true: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> float:
    return match(iou_matrix(true, pred), threshold).ap


def summarize(per_image: list[list[MatchResult]]) -> dict:
    """Overall scores pooled over images (counts summed, as the StarDist matching does)."""
    if not per_image:
        return {}
    pooled = []
    for index, threshold in enumerate(IOU_THRESHOLDS):
        tp = sum(r[index].tp for r in per_image)
        fp = sum(r[index].fp for r in per_image)
        fn = sum(r[index].fn for r in per_image)
        dice = [d for r in per_image for d in r[index].matched_dice]
        pooled.append(MatchResult(threshold, tp, fp, fn, dice))
    first = pooled[0]
    return {
        "images": len(per_image),
        "ap50": first.ap,
        "ap50_95": float(np.mean([r.ap for r in pooled])),
        "precision": first.precision,
        "recall": first.recall,
        "f1": first.f1,
        "mean_dice": float(np.mean(first.matched_dice)) if first.matched_dice else 0.0,
        "tp50": first.tp,
        "fp50": first.fp,
        "fn50": first.fn,
        # DSB-style: average of per-image AP (what Kaggle reported), next to the pooled one.
        "mean_image_ap50": float(np.mean([r[0].ap for r in per_image])),
    }


def foreground_dice(true: np.ndarray, pred: np.ndarray) -> float:
    t = np.asarray(true) > 0
    p = np.asarray(pred) > 0
    total = t.sum() + p.sum()
    return float(2 * (t & p).sum() / total) if total else 1.0


def without_ignored(predicted: np.ndarray, ignore: np.ndarray | None) -> np.ndarray:
    """A prediction as scored against ground truth with ignore regions (labelme's __ignore__):
    its pixels there are left out, and a predicted cell lying mostly there is dropped, so
    neither counts as an error."""
    if ignore is None or not ignore.any():
        return predicted
    before = np.bincount(predicted.ravel())
    kept = np.where(ignore, 0, predicted)
    after = np.bincount(kept.ravel(), minlength=len(before))
    dropped = np.nonzero((before > 0) & (after * 2 < before))[0]
    dropped = dropped[dropped > 0]
    if dropped.size:
        kept[np.isin(kept, dropped)] = 0
    return kept

