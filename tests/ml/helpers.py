"""Tiny models and synthetic images for fast ML tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from seggui.ml.unet import UNet


def disks_image(shape=(96, 128), centres=((30, 30), (30, 80), (70, 60)), radius=12, seed=0,
                bright=True, dtype=np.uint16):
    """A grey image of bright (or dark) disks on noise, and its instance labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, dtype=np.uint16)
    for index, (cy, cx) in enumerate(centres, start=1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = index
    signal = (labels > 0).astype(np.float64)
    if not bright:
        signal = 1 - signal
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    image = (0.1 + 0.6 * signal + rng.normal(0, 0.03, shape)) * top * 0.5
    image = np.clip(image, 0, top).astype(dtype)
    return image, labels


def save_tiny_unet(folder: Path, depth=2, width=4, in_channels=1, distance_head=True, seed=0,
                   postprocess=None) -> Path:
    torch.manual_seed(seed)
    model = UNet(in_channels, 3, depth, width, distance_head)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "weights.pt")
    card = {
        "format": 1, "name": folder.name, "kind": "unet", "task": "instances",
        "architecture": model.config,
        "normalization": {"method": "percentile", "low_percentile": 1.0, "high_percentile": 99.8},
        "postprocess": postprocess or {},
    }
    (folder / "card.json").write_text(json.dumps(card))
    return folder


def write_pairs(folder: Path, count: int = 3, shape=(96, 128)) -> tuple[Path, Path]:
    """Image and mask folders of synthetic disk images, paired by stem."""
    import cv2

    images, masks = folder / "images", folder / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        rng = np.random.default_rng(index)
        centres = [(int(rng.integers(15, shape[0] - 15)), int(rng.integers(15, shape[1] - 15))) for _ in range(4)]
        image, labels = disks_image(shape, centres, radius=9, seed=index, dtype=np.uint8)
        cv2.imwrite(str(images / f"img{index}.png"), image)
        cv2.imwrite(str(masks / f"img{index}.png"), labels)
    return images, masks
