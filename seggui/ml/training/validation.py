"""Per-epoch validation (loss, foreground Dice, AP@0.5) and post-processing threshold tuning."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from seggui.ml.metrics import foreground_dice, iou_matrix, match, without_ignored
from seggui.ml.postprocess import InstanceParams, instances_from_outputs


def forward_whole(model: torch.nn.Module, image: np.ndarray, multiple: int, device) -> torch.Tensor:
    """Logits for a whole (C, H, W) image, reflect-padded to the network's size multiple."""
    height, width = image.shape[1:]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    tensor = torch.from_numpy(np.ascontiguousarray(image))[None].to(device)
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        tensor = F.pad(tensor, (0, pad_w, 0, pad_h), mode=mode)
    return model(tensor)[:, :, :height, :width]


def split_outputs(logits: torch.Tensor, classes: int, distance_head: bool):
    """(probabilities (K,H,W) float32 numpy, distance (H,W) or None) from one image's logits."""
    probabilities = torch.softmax(logits[0, :classes].float(), dim=0).cpu().numpy()
    distance = None
    if distance_head:
        distance = torch.sigmoid(logits[0, classes].float()).cpu().numpy()
    return probabilities, distance


@torch.inference_mode()
def predict_maps(model, samples, multiple: int, device, classes: int, distance_head: bool):
    was_training = model.training
    model.eval()
    maps = []
    for sample in samples:
        logits = forward_whole(model, sample.image, multiple, device)
        maps.append(split_outputs(logits, classes, distance_head))
    model.train(was_training)
    return maps


def score_maps(maps, samples, params: InstanceParams) -> dict:
    """Mean validation AP@0.5 and foreground Dice over the images.

    When the samples carry a "modality" (training with --balance-modalities), val_ap50 weighs
    each modality's mean AP by the square root of its image count, as training shares its crops
    (data.crop_weights): among 43 fluorescence, 9 stained and 1 brightfield validation images
    that is 62 / 28 / 10 % instead of 81 / 17 / 2 %. Without it the fluorescence images choose
    the epoch alone (a run chose one that lost 0.04 on held-out stained images for 0.002 on
    fluorescence); weighing modalities equally would let one brightfield image decide a third."""
    aps, dices = [], []
    for (probabilities, distance), sample in zip(maps, samples):
        labels = without_ignored(instances_from_outputs(probabilities, distance, params), sample.meta.get("ignore"))
        aps.append(match(iou_matrix(sample.labels, labels), 0.5).ap)
        dices.append(foreground_dice(sample.labels, labels))
    metrics = {"val_ap50": float(np.mean(aps)), "val_dice": float(np.mean(dices))}
    kinds = [sample.meta.get("modality") for sample in samples]
    if all(kinds):
        by_kind = {kind: [ap for ap, k in zip(aps, kinds) if k == kind] for kind in sorted(set(kinds))}
        weights = {kind: np.sqrt(len(values)) for kind, values in by_kind.items()}
        metrics["val_ap50_images"] = metrics["val_ap50"]
        metrics["val_ap50_by_modality"] = {kind: float(np.mean(values)) for kind, values in by_kind.items()}
        metrics["val_ap50"] = float(sum(weights[k] * np.mean(v) for k, v in by_kind.items()) / sum(weights.values()))
    return metrics


def tune_thresholds(maps, samples, start: InstanceParams) -> tuple[InstanceParams, float]:
    """Grid search of foreground and seed thresholds maximising mean validation AP@0.5."""
    best, best_ap = start, score_maps(maps, samples, start)["val_ap50"]
    for foreground in (0.35, 0.45, 0.5, 0.55, 0.65):
        for seed in (0.25, 0.35, 0.45, 0.55, 0.65, 0.75):
            params = InstanceParams(foreground, seed, start.min_size, start.min_seed_size)
            ap = score_maps(maps, samples, params)["val_ap50"]
            if ap > best_ap + 1e-9:
                best, best_ap = params, ap
    for min_size in (4, 8, 16, 24, 32):
        params = InstanceParams(best.foreground_threshold, best.seed_threshold, min_size, best.min_seed_size)
        ap = score_maps(maps, samples, params)["val_ap50"]
        if ap > best_ap + 1e-9:
            best, best_ap = params, ap
    return best, best_ap
