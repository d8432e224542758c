"""Per-cell IoU of a tool's label image against seggui's, shared by the interop scripts.

Runs under the other tool's Python (numpy only, no seggui). Each ground-truth cell of at
least `min_pixels` pixels is matched to the tool's instance covering most of it.
"""

import json

import numpy as np


def cell_ious(truth: np.ndarray, drawn: np.ndarray, min_pixels: int) -> list:
    ious = []
    for cell in np.unique(truth):
        if cell == 0:
            continue
        inside = truth == cell
        if np.count_nonzero(inside) < min_pixels:
            continue
        found, counts = np.unique(drawn[inside], return_counts=True)
        counts = np.where(found == 0, 0, counts)
        if counts.max() == 0:
            ious.append(0.0)
            continue
        other = drawn == found[np.argmax(counts)]
        ious.append(float(np.count_nonzero(inside & other) / np.count_nonzero(inside | other)))
    return ious


def report(ious_by_image: dict) -> str:
    ious = [value for values in ious_by_image.values() for value in values]
    return json.dumps({
        "images": len(ious_by_image), "cells": len(ious),
        "mean_iou": float(np.mean(ious)) if ious else None, "min_iou": float(np.min(ious)) if ious else None,
        "exact": int(sum(1 for value in ious if value == 1.0)),
    })
