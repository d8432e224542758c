"""Pack the DSB2018 training images (never the 15 % hash test split) into one compact
image/mask folder pair, for training on a machine that ../shared does not reach.

    python benchmarks/pack_dsb_training.py OUT [--data DIR [DIR ...]]

Grey images stored as RGBA become one-channel PNGs (same pixels, a quarter of the bytes),
colour images lose only their alpha, and each image's per-nucleus masks become one 16-bit
label PNG: DSB2018 and dsb2018-extra (526 training images) fit in 36 MB. Names stay the
DSB ids, so `seggui train --images OUT/images --masks OUT/masks --holdout-hash-percent 15`
sees exactly the images it would see in the DSB layout.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from seggui.ml.dsb import HELDOUT_PERCENT, heldout_by_hash
from seggui.ml.modality import modality
from seggui.ml.training.data import find_pairs, read_labels

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    cells = ROOT.parent / "shared" / "data" / "cells"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, nargs="+", default=[cells / "dsb2018", cells / "dsb2018-extra"])
    args = parser.parse_args()
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    (args.out / "masks").mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for root in args.data:
        for pair in find_pairs(root, None):
            if heldout_by_hash(pair.stem, HELDOUT_PERCENT):
                continue
            array = np.asarray(Image.open(pair.image_path))
            if array.ndim == 3:
                rgb = array[..., :3]
                array = rgb[..., 0] if (rgb == rgb[..., :1]).all() else rgb
            kind = modality(array)
            counts[kind] = counts.get(kind, 0) + 1
            Image.fromarray(array).save(args.out / "images" / f"{pair.stem}.png", optimize=True)
            labels = read_labels(pair.mask_paths)
            if labels.max() >= 2**16:
                raise SystemExit(f"{pair.stem}: more than 65535 nuclei do not fit a 16-bit label PNG")
            Image.fromarray(labels.astype(np.uint16)).save(args.out / "masks" / f"{pair.stem}.png", optimize=True)
    print(json.dumps({"images": sum(counts.values()), "per_modality": counts}))


if __name__ == "__main__":
    main()
