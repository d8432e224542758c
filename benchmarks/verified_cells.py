"""Training on verified cells: does verifying 30 % of the cells of 8 images pay nearly as
much as correcting the 8 images whole?

    python benchmarks/verified_cells.py [--minutes 8] [--share 0.3] [--seed 0] [--arms whole verified] [--json OUT.json]

Both runs fine-tune the bundled `nuclei` model on the same 8 Usiigaci phase-contrast images for
the same minutes, through seggui.api.train (the Training dock's code and recipe):
- *whole*: every image reviewed, its labels the ground truth;
- *verified*: no image reviewed; in each, a random `--share` of the true cells are marked
  verified (the Review queue's V) and the rest of the layer is the model's own proposal, as a
  person would leave it, so training learns only from the verified cells and the background
  around them.
Both are scored on the other 5 images (used for nothing else) with AP@0.5; the figure of
merit is (verified - before) / (whole - before), the share of the gain kept.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def build_project(folder: Path, training, share: float | None, seed: int, base: str):
    """A project of the training images: whole truth (share None) or partly verified."""
    from seggui import api
    from seggui.core.imageio import read_image

    rng = np.random.default_rng(seed)
    predictor = None
    with api.create_project(folder, [image for _, image, _ in training]) as project:
        for record, (_, _, mask) in zip(project.images(), training):
            truth = read_image(mask).array.astype(np.uint32)
            if share is None:
                project.set_labels(record, truth, status="reviewed")
                continue
            if predictor is None:
                from seggui.ml.registry import load_model

                predictor = load_model(base, "cpu")
            ids = np.unique(truth[truth > 0])
            chosen = rng.choice(ids, size=max(1, int(round(share * len(ids)))), replace=False)
            verified = np.isin(truth, chosen)
            proposal = predictor.predict(read_image(record.path).array).labels.astype(np.uint32)
            offset = int(truth.max())
            layer = np.where(verified, truth, np.where(proposal > 0, proposal + offset, 0))
            # A proposed cell overlapping a verified one is cut back, as an edit would leave it.
            project.set_labels(record, layer.astype(np.uint32), status="edited")
            entry = project.entry(record)
            entry.label_layers[0].instance_info = {int(i): {"verified": True} for i in chosen}
        project.save()
    return folder


def main() -> None:
    from finetune import DATA, evaluate, usiigaci_pairs

    from seggui import api

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--base", default="nuclei")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--arms", nargs="+", choices=["whole", "verified"], default=["whole", "verified"],
                        help="which fine-tunes to run (both by default; the share of the gain needs both)")
    args = parser.parse_args()
    pairs = usiigaci_pairs(args.data)
    training, testing = pairs[:8], pairs[8:]
    work = Path(tempfile.mkdtemp(prefix="seggui-verified-"))
    before = evaluate(args.base, testing)["ap50"]
    print(f"before: AP50 {before:.3f} on {len(testing)} images", flush=True)
    result = {"benchmark": "verified_cells", "base": args.base, "train_images": len(training),
              "test_images": len(testing), "minutes": args.minutes, "share": args.share, "seed": args.seed,
              "ap50_before": round(before, 3)}
    for name, share in (("whole", None), ("verified", args.share)):
        if name not in args.arms:
            continue
        project = build_project(work / name, training, share, args.seed, args.base)
        start = time.perf_counter()
        card = api.train(work / f"{name}-model", project=project, base=args.base, minutes=args.minutes,
                         seed=args.seed)
        after = evaluate(work / f"{name}-model", testing)["ap50"]
        result[name] = {"ap50_after": round(after, 3), "minutes": round((time.perf_counter() - start) / 60, 2),
                        "epochs": len(card["training"]["history"])}
        print(f"{name}: AP50 {before:.3f} -> {after:.3f}", flush=True)
    if "whole" in result and "verified" in result:
        gain_whole = result["whole"]["ap50_after"] - before
        gain_verified = result["verified"]["ap50_after"] - before
        result["share_of_gain"] = round(gain_verified / gain_whole, 3) if gain_whole > 0 else None
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
