"""`seggui evaluate`: score predicted label images against ground truth, paired by stem."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", type=Path, required=True, help="folder of predicted label images")
    parser.add_argument("--gt", type=Path, required=True, help="folder of ground-truth label images")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")


def _labels_by_stem(folder: Path) -> dict[str, Path]:
    from seggui.core.errors import ImageReadError
    from seggui.core.imageio import image_files

    if not folder.is_dir():
        raise ImageReadError("folder not found", folder)
    return {p.stem: p for p in image_files(folder)}


def evaluate_folders(pred: Path, gt: Path) -> dict:
    """Per-image and overall scores for label images paired by stem."""
    from seggui.core.errors import ImageReadError, SegguiError
    from seggui.core.imageio import read_image
    from seggui.ml.metrics import score_image, summarize
    from seggui.ml.training.data import read_labels

    predicted, truth = _labels_by_stem(pred), _labels_by_stem(gt)
    stems = sorted(set(predicted) & set(truth))
    if not stems:
        raise SegguiError(f"no label image in {pred} has a ground-truth image of the same name in {gt}", pred)
    per_image, matches = {}, []
    for stem in stems:
        true_labels = read_labels([truth[stem]])
        pred_labels = read_labels([predicted[stem]])
        if true_labels.shape != pred_labels.shape:
            raise ImageReadError(f"size {pred_labels.shape} differs from ground truth {true_labels.shape}",
                                 predicted[stem])
        scores, results = score_image(true_labels, pred_labels)
        per_image[stem] = scores.to_json()
        matches.append(results)
    _ = read_image  # read_labels reads through seggui.core.imageio
    return {
        "images": per_image,
        "overall": summarize(matches),
        "unpaired_predictions": sorted(set(predicted) - set(truth)),
        "unpaired_ground_truth": sorted(set(truth) - set(predicted)),
    }


def run(args) -> int:
    report = evaluate_folders(args.pred, args.gt)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    header = f"{'image':<40} {'AP50':>6} {'AP50:95':>8} {'prec':>6} {'recall':>6} {'F1':>6} {'Dice':>6} {'true':>5} {'pred':>5}"
    print(header)
    for stem, s in report["images"].items():
        print(f"{stem[:40]:<40} {s['ap50']:6.3f} {s['ap50_95']:8.3f} {s['precision']:6.3f} {s['recall']:6.3f} "
              f"{s['f1']:6.3f} {s['mean_dice']:6.3f} {s['n_true']:5d} {s['n_pred']:5d}")
    o = report["overall"]
    print(f"{'overall (pooled)':<40} {o['ap50']:6.3f} {o['ap50_95']:8.3f} {o['precision']:6.3f} {o['recall']:6.3f} "
          f"{o['f1']:6.3f} {o['mean_dice']:6.3f}")
    print(f"mean of per-image AP50: {o['mean_image_ap50']:.3f} over {o['images']} images")
    for key in ("unpaired_predictions", "unpaired_ground_truth"):
        if report[key]:
            print(f"{key.replace('_', ' ')}: {', '.join(report[key])}")
    return 0
