"""Which watershed thresholds suit each imaging modality? Chosen on images no model was trained
on and that are not the test split.

    python benchmarks/postprocess_choice.py [--model nuclei] [--limit-per-modality 60] [--json OUT]

The images: ../shared/data/cells/dsb2018-extra outside the held-out test split (the bundled
`nuclei` model was trained on dsb2018 alone, so these are unseen; the test split,
benchmarks/heldout_dsb.py, stays untouched). The network runs once per image; every
combination of foreground threshold, seed threshold and minimum size then post-processes its
maps (seggui.ml.postprocess.instances_from_outputs, the code prediction uses) and is scored
with AP@0.5 per image. Prints, per modality, the card's values and the best combination with
their mean AP@0.5 and the image count.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seggui.core.imageio import read_image  # noqa: E402
from seggui.ml.dsb import HELDOUT_PERCENT, load_truth  # noqa: E402
from seggui.ml.modality import MODALITIES, modality  # noqa: E402
from seggui.ml.inference import PredictOptions  # noqa: E402
from seggui.ml.metrics import average_precision  # noqa: E402
from seggui.ml.normalize import normalize_image  # noqa: E402
from seggui.ml.postprocess import InstanceParams, instances_from_outputs  # noqa: E402
from seggui.ml.registry import load_model  # noqa: E402
from seggui.ml.training.data import find_pairs, heldout_by_hash  # noqa: E402

FOREGROUND = (0.4, 0.5, 0.6)
SEED = (0.2, 0.25, 0.3, 0.35, 0.45, 0.55)
MIN_SIZE = (12, 24, 48)


def validation_pairs(folder: Path, per_modality: int) -> dict[str, list]:
    chosen: dict[str, list] = {m: [] for m in MODALITIES}
    for pair in sorted(find_pairs(folder, None), key=lambda p: p.stem):
        if heldout_by_hash(pair.stem, HELDOUT_PERCENT):
            continue  # the test split
        image = read_image(pair.image_path).array
        kind = modality(image)
        if len(chosen[kind]) < per_modality:
            chosen[kind].append((pair, image))
    return chosen


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="nuclei")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cells" / "dsb2018-extra")
    parser.add_argument("--limit-per-modality", type=int, default=60)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    predictor = load_model(args.model, "cpu", threads=args.threads)
    card = InstanceParams.from_json(predictor.card.get("postprocess"))
    grid = list(itertools.product(FOREGROUND, SEED, MIN_SIZE))
    result = {"model": args.model, "data": args.data.name, "card": card.to_json(), "modalities": {}}
    for kind, pairs in validation_pairs(args.data, args.limit_per_modality).items():
        if not pairs:
            continue
        scores = np.zeros((len(pairs), len(grid)))
        card_scores = []
        for row, (pair, image) in enumerate(pairs):
            planes = normalize_image(np.asarray(image), predictor.in_channels, predictor.low, predictor.high)
            maps = predictor.scaled_maps(planes, PredictOptions(), None, None)
            probabilities = maps[: predictor.classes]
            distance = maps[predictor.classes] if predictor.distance_head else None
            truth = load_truth(pair)
            card_scores.append(average_precision(truth, instances_from_outputs(probabilities, distance, card)))
            for column, (foreground, seed, min_size) in enumerate(grid):
                params = InstanceParams(foreground_threshold=foreground, seed_threshold=seed, min_size=min_size,
                                        min_seed_size=card.min_seed_size)
                scores[row, column] = average_precision(truth, instances_from_outputs(probabilities, distance, params))
        best = int(np.argmax(scores.mean(axis=0)))
        foreground, seed, min_size = grid[best]
        entry = {"images": len(pairs), "card_ap50": round(float(np.mean(card_scores)), 3),
                 "best": {"foreground_threshold": foreground, "seed_threshold": seed, "min_size": min_size},
                 "best_ap50": round(float(scores[:, best].mean()), 3)}
        result["modalities"][kind] = entry
        print(f"{kind:<13} {len(pairs):>3} images: card {entry['card_ap50']:.3f}, best {entry['best_ap50']:.3f} "
              f"at {entry['best']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
