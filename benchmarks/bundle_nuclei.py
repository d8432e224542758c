"""Ship a trained nuclei U-Net: copy weights.pt and card.json from a `seggui train` output
folder into seggui/resources/models/nuclei/, adding held-out DSB2018 accuracy per modality.

    python benchmarks/bundle_nuclei.py TRAINED_FOLDER [--data DIR [DIR ...]]

The card's measured accuracy always comes from images the training never saw (the 15 %
hash split of seggui.ml.dsb), never from its validation images.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "seggui" / "resources" / "models" / "nuclei"
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from heldout_dsb import evaluate

    from seggui.ml.cards import read_card, write_card
    from seggui.ml.precision import resolve

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trained", type=Path)
    cells = ROOT.parent / "shared" / "data" / "cells"
    parser.add_argument("--data", type=Path, nargs="+", default=[cells / "dsb2018", cells / "dsb2018-extra"])
    parser.add_argument("--training-command",
                        help="the commands that reproduce the run, for the card (e.g. when its data was packed "
                             "by benchmarks/pack_dsb_training.py first: the card alone keeps only folder names)")
    args = parser.parse_args()
    card = read_card(args.trained / "card.json")
    if args.training_command:
        card["training"]["command"] = args.training_command
    TARGET.mkdir(parents=True, exist_ok=True)
    # Half precision halves the file (7.8 -> 3.9 MB); load_state_dict casts back to float32.
    # The held-out accuracy below is measured with this shipped file, so it includes any effect.
    state = torch.load(args.trained / "weights.pt", map_location="cpu", weights_only=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, TARGET / "weights.pt")
    card["name"] = "nuclei"
    colour = card["architecture"]["in_channels"] == 3
    card["description"] = (
        "Small U-Net for nuclei (fluorescence, H&E/stained, brightfield), "
        + ("colour input (grey images are repeated)" if colour else "grey input")
        + "; background / interior / boundary classes plus distance to boundary, seeded watershed. "
        "Trained by seggui's own trainer on DSB2018 stage-1 images."
    )
    card["training_data"] = {
        "dataset": "2018 Data Science Bowl stage 1 training set (the subsets in shared/data/cells: "
                   + ", ".join(folder.name for folder in args.data) + ")",
        "source": "Broad Bioimage Benchmark Collection BBBC038 (https://bbbc.broadinstitute.org/BBBC038); "
                  "see there for terms of use and the citation (Caicedo et al., Nature Methods 2019)",
        "heldout": "images whose sha1(id) mod 10000 < 1500 (seggui.ml.dsb.HELDOUT_PERCENT), never trained on",
    }
    write_card(card, TARGET / "card.json")
    results = {}
    # plain: no flips; with_flips: every image flipped; default: as `seggui predict` does
    # (flips on a CPU for images up to seggui.ml.inference.AUTO_FLIP_PIXELS).
    for flips, name in ((False, "plain"), (True, "with_flips"), (None, "default")):
        result = evaluate(str(TARGET), args.data, flips)
        results[name] = {
            k: ({key: v[key] for key in ("images", "ap50", "mean_image_ap50", "ap50_95", "precision", "recall", "f1")}
                if v.get("images") else v)
            for k, v in result.items() if k in ("fluorescence", "stained", "brightfield", "all")
        }
    card["heldout_accuracy"] = {
        "metric": "AP@0.5 = TP/(TP+FP+FN), one-to-one matching at IoU>0.5; 'mean_image_ap50' averages per "
                  "image (DSB style), 'ap50' pools counts over images",
        # What measured these figures (python benchmarks/heldout_dsb.py gives them for any model).
        "command": f"python benchmarks/bundle_nuclei.py {args.trained.name}",
        # The arithmetic prediction ran in ("auto" on this machine's CPU; seggui.ml.precision).
        "precision": resolve("auto", torch.device("cpu")),
        **results,
    }
    write_card(card, TARGET / "card.json")
    print(json.dumps(card["heldout_accuracy"], indent=2))


if __name__ == "__main__":
    main()
