"""Held-out DSB2018 accuracy of a model, per modality (fluorescence, stained, brightfield).

    python benchmarks/heldout_dsb.py --model nuclei [--data DIR [DIR ...]] [--flips | --no-flips]
        [--precision auto|float32|bfloat16] [--json OUT.json]

The test split is every image whose id hashes into the bottom 15 % (seggui.ml.dsb), in
../shared/data/cells/dsb2018 and dsb2018-extra by default. It is used for nothing else: the
bundled model is trained with --holdout-hash-percent 15 (those images are never loaded), and
its epoch and post-processing thresholds are chosen on a validation split of the rest.
AP@0.5 is TP / (TP + FP + FN) at one-to-one IoU matching, per image and pooled.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


from seggui.core.imageio import read_image
from seggui.ml.dsb import HELDOUT_PERCENT, heldout_pairs, load_truth
from seggui.ml.modality import MODALITIES, modality
from seggui.ml.inference import PredictOptions
from seggui.ml.metrics import score_image, summarize
from seggui.ml.precision import PRECISIONS, resolve
from seggui.ml.registry import load_model

ROOT = Path(__file__).resolve().parents[1]


def evaluate(model: str, data: Path | list[Path], flips: bool | None = None, device: str = "cpu",
             threads: int | None = None, precision: str = "auto") -> dict:
    predictor = load_model(model, device, threads=threads)
    options = PredictOptions(test_time_flips=flips, precision=precision)
    groups: dict[str, list] = {m: [] for m in MODALITIES}
    per_image = {}
    seconds = 0.0
    folders = data if isinstance(data, (list, tuple)) else [data]
    pairs = [pair for folder in folders if Path(folder).is_dir() for pair in heldout_pairs(folder, HELDOUT_PERCENT)]
    for pair in pairs:
        image = read_image(pair.image_path).array
        kind = modality(image)
        start = time.perf_counter()
        prediction = predictor.predict(image, options)
        seconds += time.perf_counter() - start
        scores, matches = score_image(load_truth(pair), prediction.labels)
        groups[kind].append(matches)
        per_image[pair.stem] = {"modality": kind, "ap50": scores.ap50, "n_true": scores.n_true,
                                "n_pred": scores.n_pred}
    result = {"model": model, "data": [Path(f).name for f in folders], "heldout_percent": HELDOUT_PERCENT,
              "test_time_flips": "auto" if flips is None else flips,
              "precision": resolve(precision, predictor.device),
              "images": len(per_image), "seconds": round(seconds, 1)}
    for kind, matches in groups.items():
        result[kind] = summarize(matches) if matches else {"images": 0}
    result["all"] = summarize([m for matches in groups.values() for m in matches])
    result["per_image"] = per_image
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nuclei")
    cells = ROOT.parent / "shared" / "data" / "cells"
    parser.add_argument("--data", type=Path, nargs="+", default=[cells / "dsb2018", cells / "dsb2018-extra"])
    parser.add_argument("--flips", action=argparse.BooleanOptionalAction, default=None,
                        help="test-time flips on every image, or on none (default: as `seggui predict` does)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="network arithmetic on the CPU (default: bfloat16 where native, as the app runs)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = evaluate(args.model, args.data, args.flips, threads=args.threads, precision=args.precision)
    print(f"model {args.model}: {result['images']} held-out images, {result['seconds']} s of prediction "
          f"({result['precision']})")
    print(f"{'modality':<14} {'images':>6} {'AP50 mean/img':>14} {'AP50 pooled':>12} {'AP50:95':>8} {'F1':>6}")
    for kind in (*MODALITIES, "all"):
        s = result[kind]
        if s.get("images"):
            print(f"{kind:<14} {s['images']:>6} {s['mean_image_ap50']:>14.3f} {s['ap50']:>12.3f} "
                  f"{s['ap50_95']:>8.3f} {s['f1']:>6.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
