"""Fine-tune the bundled nuclei model on 8 Usiigaci phase-contrast images within a CPU
budget, evaluate on the remaining ones, print AP@0.5 before and after, per seed.

    python benchmarks/finetune.py [--minutes 8] [--seeds 0 1] [--train-count 8]
        [--compare "--input-scale 1"] [--json OUT.json] [-- EXTRA seggui train ARGS]

Each run is exactly `seggui train --images I --masks M --base nuclei --minutes N --seed S
--out DIR` in a child process: the command and defaults a person (and the Training dock) uses.
`--compare ARGS` trains a second variant with those extra arguments on the same seeds in the
same run, a baseline measured beside the default on the same (noisy) machine.

Usiigaci (shared/data/cells/usiigaci): train/setN/phase.png + instances_ids.png and
val/set46/raw.tif + instances_ids.png. Images are sorted by set number; the first
--train-count are for training (the trainer holds one of them out for validation), the
rest for the before/after evaluation and for nothing else.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from seggui.core.imageio import read_image
from seggui.ml.inference import PredictOptions
from seggui.ml.metrics import score_image, summarize
from seggui.ml.registry import load_model

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


def fine_tune(images: Path, masks: Path, out: Path, base: str, minutes: float, seed: int, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "seggui", "train", "--images", str(images), "--masks", str(masks),
               "--base", base, "--minutes", str(minutes), "--seed", str(seed), "--out", str(out),
               "--progress", "jsonl", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"seggui train failed:\n{done.stderr[-2000:]}")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    epochs = [e for e in events if e["event"] == "epoch"]
    card = json.loads((out / "card.json").read_text())
    return {"minutes": round((time.perf_counter() - start) / 60, 2), "epochs": len(epochs),
            "input_scale": (card.get("scale") or {}).get("input_scale"),
            "best_epoch": card["training"]["best_epoch"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--base", default="nuclei")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--train-count", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--compare", help="extra `seggui train` arguments of a baseline variant")
    parser.add_argument("--out", type=Path, help="keep the trained models here")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
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
    root = args.out or work
    before = evaluate(args.base, testing, args.device)
    print(f"before: AP50 {before['ap50']:.3f} (mean per image {before['mean_image_ap50']:.3f})", flush=True)
    variants = {"default": extra}
    if args.compare:
        variants["compare: " + args.compare] = extra + shlex.split(args.compare)
    result = {"benchmark": "finetune_usiigaci", "base": args.base, "train_images": len(training),
              "test_images": len(testing), "minutes": args.minutes, "ap50_before": round(before["ap50"], 3),
              "variants": {}}
    for label, arguments in variants.items():
        runs = []
        for seed in args.seeds:
            out = root / f"{'default' if label == 'default' else 'compare'}-seed{seed}"
            run = fine_tune(images, masks, out, args.base, args.minutes, seed, arguments)
            after = evaluate(out, testing, args.device)
            run.update(seed=seed, ap50_after=round(after["ap50"], 3),
                       mean_image_ap50_after=round(after["mean_image_ap50"], 3))
            runs.append(run)
            print(f"{label} seed {seed}: AP50 {before['ap50']:.3f} -> {after['ap50']:.3f} "
                  f"({run['epochs']} epochs in {run['minutes']} min, input scale {run['input_scale']})", flush=True)
        result["variants"][label] = {"arguments": arguments, "runs": runs,
                                     "mean_ap50_after": round(float(np.mean([r["ap50_after"] for r in runs])), 3)}
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
