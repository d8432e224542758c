"""Fine-tune the bundled nuclei model on 8 Usiigaci phase-contrast images within a CPU
budget, evaluate on the remaining ones, print AP@0.5 before and after.

    python benchmarks/finetune.py [--minutes 10] [--train-count 8] [--threads 2] [--out DIR]

Usiigaci (shared/data/cells/usiigaci): train/setN/phase.png + instances_ids.png and
val/set46/raw.tif + instances_ids.png. Images are sorted by set number; the first
--train-count are for training (the trainer holds one of them out for validation), the
rest for the before/after evaluation.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from seggui.core.imageio import read_image
from seggui.ml.inference import PredictOptions
from seggui.ml.metrics import score_image, summarize
from seggui.ml.registry import load_model
from seggui.ml.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cells" / "usiigaci"


def usiigaci_pairs(root: Path) -> list[tuple[str, Path, Path]]:
    pairs = []
    for folder in sorted(root.glob("*/set*"), key=lambda p: int(re.sub(r"\D", "", p.name))):
        mask = folder / "instances_ids.png"
        image = next((folder / n for n in ("phase.png", "raw.tif") if (folder / n).is_file()), None)
        if image is not None and mask.is_file():
            pairs.append((folder.name, image, mask))
    return pairs


def evaluate(model, pairs, device: str = "cpu") -> dict:
    predictor = load_model(model, device)
    matches = []
    for _, image, mask in pairs:
        prediction = predictor.predict(read_image(image).array, PredictOptions())
        truth = read_image(mask).array.astype(np.int64)
        matches.append(score_image(truth, prediction.labels)[1])
    return summarize(matches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--base", default="nuclei")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--train-count", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    args = parser.parse_args()
    pairs = usiigaci_pairs(args.data)
    training, testing = pairs[: args.train_count], pairs[args.train_count :]
    print(f"train on {[p[0] for p in training]}, evaluate on {[p[0] for p in testing]}")
    work = Path(tempfile.mkdtemp(prefix="seggui-finetune-"))
    images, masks = work / "images", work / "masks"
    images.mkdir()
    masks.mkdir()
    for name, image, mask in training:
        (images / f"{name}{image.suffix}").symlink_to(image.resolve())
        (masks / f"{name}.png").symlink_to(mask.resolve())
    out = args.out or work / "model"
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    before = evaluate(args.base, testing, args.device)
    print(f"before: AP50 {before['ap50']:.3f} (mean per image {before['mean_image_ap50']:.3f}), "
          f"evaluation {time.perf_counter() - start:.0f} s")
    steps = []

    def on_event(event):
        if event["event"] == "epoch":
            steps.append(event)
            print(f"  epoch {event['epoch']}: loss {event['loss']:.3f} val AP50 {event['val_ap50']:.3f} "
                  f"({event['seconds']:.0f} s)", flush=True)

    config = TrainConfig(out=out, images=images, masks=masks, base=args.base, minutes=args.minutes,
                         threads=args.threads, seed=args.seed, device=args.device,
                         learning_rate=args.learning_rate, crops_per_epoch=48,
                         patience=None, batch_size=8)
    start = time.perf_counter()
    card = train(config, on_event=on_event)
    minutes = (time.perf_counter() - start) / 60
    crops = len(card["training"]["history"]) * 48
    after = evaluate(out, testing, args.device)
    print(f"after:  AP50 {after['ap50']:.3f} (mean per image {after['mean_image_ap50']:.3f})")
    print(f"fine-tuning: {minutes:.1f} min wall-clock incl. validation and threshold tuning, "
          f"{crops} crops of 256x256 = {crops / (minutes * 60):.2f} crops/s, model in {out}")
    print(f"summary: before {before['ap50']:.3f} -> after {after['ap50']:.3f} AP@0.5 on {len(testing)} images")
    print(json.dumps({"benchmark": "finetune_usiigaci", "train_images": len(training), "test_images": len(testing),
                      "ap50_before": round(before["ap50"], 3), "ap50_after": round(after["ap50"], 3),
                      "mean_image_ap50_after": round(after["mean_image_ap50"], 3),
                      "minutes": round(minutes, 2), "crops_per_s": round(crops / (minutes * 60), 2),
                      "learning_rate": args.learning_rate, "device": args.device}))


if __name__ == "__main__":
    main()
