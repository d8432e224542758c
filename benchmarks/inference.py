"""Inference time per model on a 1024x1024 image, split into normalisation, network and
post-processing, with the ratio of the total to a bare forward pass of the network.

    python benchmarks/inference.py [--models nuclei classic ...] [--repeats 3] [--threads N]
        [--precision auto|float32|bfloat16 ...]

Several precisions are measured one after the other in the same run (a baseline beside the
change: the machine is noisy); the default is the app's own, "auto".

The image is a real DSB2018 fluorescence image tiled to 1024x1024 (so post-processing sees
a realistic number of nuclei), or synthetic noise when the shared data is absent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from seggui.ml.inference import NetworkPredictor, PredictOptions
from seggui.ml.precision import PRECISIONS, autocast, resolve
from seggui.ml.registry import list_models, load_model

ROOT = Path(__file__).resolve().parents[1]
DSB_IMAGE = ROOT.parent / "shared" / "data" / "cells" / "dsb2018" / \
    "5f9d29d6388c700f35a3c29fa1b1ce0c1cba6667d05fdb70bd1e89004dcf71ed"


def test_image(size: int = 1024) -> np.ndarray:
    files = sorted((DSB_IMAGE / "images").glob("*.png")) if DSB_IMAGE.is_dir() else []
    if files:
        from seggui.core.imageio import read_image

        tile = read_image(files[0]).array
        reps = (size // tile.shape[0] + 1, size // tile.shape[1] + 1) + (1,) * (tile.ndim - 2)
        return np.ascontiguousarray(np.tile(tile, reps)[:size, :size])
    return (np.random.default_rng(0).random((size, size)) * 255).astype(np.uint8)


@torch.inference_mode()
def bare_forward_ms(predictor: NetworkPredictor, size: int, repeats: int, precision: str) -> float:
    x = torch.rand(1, predictor.in_channels, size, size)
    if predictor.device.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast(predictor.device, precision):
        predictor.model(x)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            predictor.model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", help="default: every available model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["auto"],
                        help="network arithmetic; several are measured in turn (default: auto, as the app)")
    parser.add_argument("--flips", action=argparse.BooleanOptionalAction, default=None,
                        help="test-time flips, or none (default: as `seggui predict` does)")
    args = parser.parse_args()
    names = args.models or [m.name for m in list_models() if m.available]
    image = test_image(args.size)
    print(f"image {image.shape} {image.dtype}; torch {torch.__version__}, threads "
          f"{args.threads or 'default'}, device {args.device}")
    print(f"{'model':<30} {'precision':>9} {'norm ms':>8} {'net ms':>8} {'post ms':>8} {'total ms':>9} "
          f"{'bare fwd':>9} {'ratio':>6} {'cells':>6}")
    rows = []
    for name in names:
        predictor = load_model(name, args.device, threads=args.threads)
        for asked in args.precision:
            options = PredictOptions(test_time_flips=args.flips, precision=asked)
            network = isinstance(predictor, NetworkPredictor)
            precision = resolve(asked, predictor.device) if network else "n/a"
            predictor.predict(image, options)  # warm-up (allocator, oneDNN kernels)
            runs = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                prediction = predictor.predict(image, options)
                runs.append((time.perf_counter() - start, prediction))
            total, prediction = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
            t = prediction.timings
            bare = bare_forward_ms(predictor, args.size, args.repeats, precision) if network else None
            ratio = f"{total * 1000 / bare:6.2f}" if bare else "   n/a"
            bare_text = f"{bare:9.0f}" if bare else "      n/a"
            print(f"{name:<30} {precision:>9} {t['normalize'] * 1000:8.0f} {t['network'] * 1000:8.0f} "
                  f"{t['postprocess'] * 1000:8.0f} {total * 1000:9.0f} {bare_text} {ratio} "
                  f"{int(prediction.labels.max()):6d}")
            rows.append({"benchmark": "inference", "model": name, "precision": precision,
                         "normalize_ms": round(t["normalize"] * 1000, 1), "network_ms": round(t["network"] * 1000, 1),
                         "postprocess_ms": round(t["postprocess"] * 1000, 1), "total_ms": round(total * 1000, 1),
                         "cells": int(prediction.labels.max())})
    for row in rows:  # for benchmarks/run_all.py
        print(json.dumps(row))

if __name__ == "__main__":
    main()
