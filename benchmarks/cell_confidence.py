"""Does the per-cell confidence rank the proposal's errors? Prints one JSON line per set.

    python benchmarks/cell_confidence.py [--images N] [--flip] [--split heldout|train]
        [--model nuclei] [--data ../shared/data/cells/dsb2018] [--threads 2]

For each predicted cell of a few DSB2018 images: its confidence (seggui.ml.confidence, the
same code as `seggui predict --scores` and the GUI) and its best IoU with any ground-truth
nucleus. A cell is "right" when that IoU >= 0.5. Reported: the AUC of the score for telling
right cells from the rest (0.5 = no better than chance, 1 = every wrong cell scores below
every right one), the Spearman correlation of score and best IoU, the same AUC for each cue
alone, and the image score's Spearman correlation with the image's AP50. A second line
measures click-to-add (seggui.core.assisted.add_cell_mask): up to 15 true nuclei per image
are removed from the truth one at a time and re-added by one click at their deepest point,
from the image alone and with the model's probability map; reported: the IoU with the
removed nucleus. The held-out
images (never seen in training; all 48 unless --images) are the default; the weights were
chosen on `--split train --images 30`. About a minute on 2 CPU cores (1.6 with --flip).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr

ROOT = Path(__file__).resolve().parents[1]


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half)."""
    positive = positive.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def click_to_add(image, truth, probability, per_image: int = 15) -> dict[str, list[float]]:
    from scipy import ndimage

    from seggui.core.assisted import add_cell_mask

    ious: dict[str, list[float]] = {"image": [], "probability": []}
    ids = np.unique(truth)
    for cell_id in ids[ids > 0][:per_image].tolist():
        cell = truth == cell_id
        others = np.where(cell, 0, truth)
        depth = ndimage.distance_transform_edt(cell)
        row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
        for key, map_ in (("image", None), ("probability", probability)):
            hit = add_cell_mask(image, col + 0.5, row + 0.5, others, map_)
            if hit is None:
                ious[key].append(0.0)
                continue
            (y0, x0, y1, x1), mask = hit
            found = np.zeros_like(cell)
            found[y0:y1, x0:x1] = mask
            ious[key].append(float((found & cell).sum() / (found | cell).sum()))
    return ious


def pick_pairs(data: Path, split: str, count: int):
    from seggui.ml.dsb import HELDOUT_PERCENT, heldout_pairs
    from seggui.ml.training.data import find_pairs

    if split == "heldout":
        pairs = heldout_pairs(data, HELDOUT_PERCENT)
    else:
        held = {p.stem for p in heldout_pairs(data, HELDOUT_PERCENT)}
        pairs = [p for p in find_pairs(data, None) if p.stem not in held]
    pairs = sorted(pairs, key=lambda p: p.stem)
    if count <= 0 or count >= len(pairs):
        return pairs
    step = max(1, len(pairs) // count)  # spread over the set, not the first few ids
    return pairs[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nuclei")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cells" / "dsb2018")
    parser.add_argument("--images", type=int, default=0, help="how many, spread over the set (0: all)")
    parser.add_argument("--split", choices=["heldout", "train"], default="heldout")
    parser.add_argument("--flip", action="store_true", help="add the flip-agreement cue (2x network time)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-add-cell", action="store_true", help="skip the click-to-add line")
    args = parser.parse_args()

    import torch

    from seggui.core.imageio import read_image
    from seggui.ml import confidence
    from seggui.ml.dsb import load_truth
    from seggui.ml.inference import PredictOptions
    from seggui.ml.metrics import average_precision
    from seggui.ml.registry import load_model

    torch.manual_seed(0)
    predictor = load_model(args.model, "cpu", threads=args.threads)
    options = PredictOptions(score_flip=args.flip)
    rows: list[tuple[float, float, dict]] = []  # (score, best IoU, cues)
    images = []
    added: dict[str, list[float]] = {"image": [], "probability": []}
    start = time.perf_counter()
    for pair in pick_pairs(args.data, args.split, args.images):
        image = read_image(pair.image_path).array
        truth = load_truth(pair)
        prediction = predictor.predict(image, options)
        labels = prediction.labels
        ids = confidence.cell_ids(labels)
        ious = confidence.best_iou(labels, truth, ids)
        for index, cell in enumerate(ids.tolist()):
            cues = {name: values[cell] for name, values in (prediction.cues or {}).items()}
            rows.append((prediction.scores[cell], float(ious[index]), cues))
        if not args.no_add_cell:
            for key, value in click_to_add(image, truth, prediction.probability).items():
                added[key].extend(value)
        images.append({"stem": pair.stem[:12], "cells": int(ids.size), "image_score": prediction.image_score,
                       "ap50": average_precision(truth, labels), "right": float(np.mean(ious >= 0.5)) if ids.size
                       else None})
    seconds = time.perf_counter() - start
    scores = np.array([r[0] for r in rows])
    best = np.array([r[1] for r in rows])
    right = best >= 0.5
    result = {
        "benchmark": "cell_confidence", "model": args.model, "split": args.split, "flip": args.flip,
        "images": len(images), "cells": int(scores.size), "right_share": round(float(right.mean()), 3),
        "auc_right_vs_wrong": round(auc(scores, right), 3),
        "spearman_score_iou": round(float(spearmanr(scores, best).statistic), 3),
        "image_spearman_score_ap50": round(float(spearmanr([i["image_score"] for i in images],
                                                           [i["ap50"] for i in images]).statistic), 3),
        "seconds": round(seconds, 1), "threads": args.threads,
    }
    for name in rows[0][2] if rows else ():
        values = np.array([r[2][name] for r in rows])
        result[f"auc_{name}"] = round(auc(values, right), 3)
    print(json.dumps(result))
    if not args.no_add_cell:
        line = {"benchmark": "click_to_add", "split": args.split, "images": len(images)}
        for key, values in added.items():
            values = np.array(values)
            line[key] = {"cells": int(values.size), "mean_iou": round(float(values.mean()), 3),
                         "iou_at_least_0.5": round(float((values >= 0.5).mean()), 3)}
        print(json.dumps(line))
    for item in images:
        print(json.dumps({"benchmark": "cell_confidence", "image": item["stem"], "cells": item["cells"],
                          "image_score": round(item["image_score"], 3), "ap50": round(item["ap50"], 3)}))


if __name__ == "__main__":
    main()
