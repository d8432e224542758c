"""Training behind `seggui train`, the GUI's fine-tuning and seggui.api.train: the U-Net's
parts for the one loop (seggui.ml.training.loop), and the dispatch to torchvision's.

`train(config, on_event)` reports progress as plain dict events (start, epoch, checkpoint,
done, error) so the CLI can print JSON lines and the GUI can read them from a child
process. Under torchrun it runs DistributedDataParallel (gloo on CPU); only rank 0 writes
files and reports events.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from seggui.core.errors import ModelError, TrainingError
from seggui.ml.modality import modality
from seggui.ml.postprocess import InstanceParams
from seggui.ml.precision import autocast
from seggui.ml.precision import resolve as resolve_precision
from seggui.ml.targets import IGNORE
from seggui.ml.safe_load import load_weights
from seggui.ml.training import data as training_data
from seggui.ml.training import distributed
from seggui.ml.training.config import TrainConfig
from seggui.ml.training.loop import NetworkParts, run_epochs
from seggui.ml.training.progress import settle_checkpoint
from seggui.ml.training.runs import (
    CARD_NAME, CHECKPOINT_NAME, WEIGHTS_NAME, build_card, honest_validation, load_pairs, load_split,
)
from seggui.ml.training.validation import forward_whole, score_maps, split_outputs, tune_thresholds
from seggui.ml.scale import DEFAULT_CELL_DIAMETER, SCALE_LIMITS, card_scale, input_scale_for, median_cell_diameter
from seggui.ml.unet import UNet, parameter_count, widen_input

CLASSES = 3
# Training crops are rescaled by up to 4/3 either way: cells of one image vary in size, and a
# person's cells are brought near the model's size only roughly (seggui.ml.scale).
ZOOM_RANGE = (0.75, 4 / 3)

Event = dict
EventCallback = Callable[[Event], None]


def pick_device(name: str) -> torch.device:
    """The inference rule for choosing a device, reported as a training error."""
    from seggui.ml.inference import pick_device as inference_device

    try:
        return inference_device(name)
    except ModelError as error:
        raise TrainingError(error.message) from None


def segmentation_loss(logits, classes, distance, class_weights, distance_head: bool):
    """Cross-entropy (boundary weighted) + soft Dice over classes (+ BCE on distance)."""
    class_logits = logits[:, :CLASSES].float()
    # Ignore regions (class target IGNORE) count in no term: the network may say anything there.
    valid = (classes != IGNORE).unsqueeze(1).float()
    loss = F.cross_entropy(class_logits, classes, weight=class_weights, ignore_index=IGNORE)
    probabilities = torch.softmax(class_logits, dim=1) * valid
    one_hot = F.one_hot(torch.where(classes == IGNORE, 0, classes), CLASSES).permute(0, 3, 1, 2).float() * valid
    intersection = (probabilities * one_hot).sum(dim=(0, 2, 3))
    total = probabilities.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
    dice = (2 * intersection + 1.0) / (total + 1.0)
    loss = loss + (class_weights * (1 - dice)).sum() / class_weights.sum()
    if distance_head:
        per_pixel = F.binary_cross_entropy_with_logits(logits[:, CLASSES].float(), distance, reduction="none")
        loss = loss + (per_pixel * valid[:, 0]).sum() / valid.sum().clamp(min=1.0)
    return loss


def _load_base(base: str, device):
    """Architecture, normalisation, post-processing and state dict of a U-Net to fine-tune."""
    from seggui.ml.registry import resolve_model
    from seggui.ml.safe_load import state_dict_from

    info = resolve_model(base)
    if info.kind != "unet":
        raise TrainingError(f"only U-Net models can be fine-tuned, {info.name!r} is {info.kind}")
    if not info.available:
        raise TrainingError(f"base model {info.name!r} unavailable: {info.unavailable_reason}")
    state = state_dict_from(load_weights(info.weights, device), info.weights)
    return info, state


def train(config: TrainConfig, on_event: EventCallback | None = None, should_stop=None) -> dict:
    """Train or fine-tune; returns the final card. Raises TrainingError on unusable input."""
    config = config.with_recipe()
    rank, world = distributed.setup()
    emit = (lambda event: on_event(event)) if (on_event and rank == 0) else (lambda event: None)
    try:
        return _train(config, emit, should_stop or (lambda: False), rank, world)
    finally:
        distributed.teardown()


def _train(config: TrainConfig, emit, should_stop, rank: int, world: int) -> dict:
    out = Path(config.out)
    if config.project is not None and config.images is not None:
        raise TrainingError("give either --project or --images, not both")
    if config.project is None and config.images is None:
        raise TrainingError("no training data: give --project, or --images (and --masks)")
    if config.epochs is not None and config.epochs < 1:
        raise TrainingError("--epochs must be at least 1")
    if config.minutes is not None and config.minutes <= 0:
        raise TrainingError("--minutes must be positive")
    if config.input_scale is not None and not (SCALE_LIMITS[0] <= config.input_scale <= SCALE_LIMITS[1]):
        raise TrainingError(f"--input-scale must be from {SCALE_LIMITS[0]} to {SCALE_LIMITS[1]}")
    if config.channels is not None and not 1 <= config.channels <= 16:
        raise TrainingError("--channels must be from 1 to 16")
    device = pick_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + rank)
    np.random.seed(config.seed)

    if config.base:
        from seggui.ml.registry import resolve_model
        from seggui.ml.training.torchvision_data import is_torchvision_kind

        info = resolve_model(config.base)
        if is_torchvision_kind(info.kind):
            from seggui.ml.training.torchvision_training import train_torchvision

            return train_torchvision(config, info, emit, should_stop, device, world)

    base_info, base_state = (None, None)
    architecture = {
        "in_channels": config.channels or 1,
        "classes": CLASSES,
        "depth": config.depth,
        "width": config.width,
        "distance_head": config.distance_head,
    }
    normalization = {"method": "percentile", "low_percentile": 1.0, "high_percentile": 99.8}
    params = InstanceParams()
    if config.base:
        base_info, base_state = _load_base(config.base, device)
        architecture = dict(base_info.card["architecture"])
        normalization = dict(base_info.card.get("normalization", normalization))
        params = InstanceParams.from_json(base_info.card.get("postprocess"))
    distance_head = bool(architecture.get("distance_head", False))
    scale = _training_scale(config, base_info)

    def load(pair):
        sample = training_data.load_sample(pair, config.channels or architecture["in_channels"], normalization,
                                           scale["input_scale"])
        raw = sample.meta.pop("raw", None)  # the decoded file is not needed again; "ignore" is (validation)
        if config.balance_modalities:
            sample.meta["modality"] = modality(raw)
        return sample

    split = load_split(config, load)
    samples, train_samples, val_samples = split.samples, split.training, split.validation
    if base_info is None:  # from scratch: the model's cell size is that of its training cells
        scale["cell_diameter"] = round(median_cell_diameter([s.labels for s in train_samples])
                                       or DEFAULT_CELL_DIAMETER, 2)

    if base_state is not None:
        from seggui.ml.checked_build import build_checked

        try:  # the base card's sizes are checked against its weights before memory is spent
            model = build_checked(lambda: UNet(**architecture), base_state, base_info.weights, "U-Net architecture")
        except ModelError as error:
            raise TrainingError(error.message, error.path) from None
        if config.channels and config.channels != architecture["in_channels"]:
            try:
                widened = widen_input(model.state_dict(), config.channels)
            except ValueError as error:
                raise TrainingError(f"cannot train the base with {config.channels} input channels: {error}") from None
            architecture["in_channels"] = config.channels
            model = UNet(**architecture)
            model.load_state_dict(widened)
    else:
        model = UNet(**architecture)
    model.to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    multiple = model.size_multiple
    crops = config.crops_per_epoch or max(64, 8 * len(train_samples))
    crops = max(crops, config.batch_size * world)
    groups = [s.meta["modality"] for s in train_samples] if config.balance_modalities else None
    dataset = training_data.CropDataset(train_samples, config.crop_size, crops, config.seed, zoom=ZOOM_RANGE,
                                        groups=groups)
    sampler = distributed.sampler(dataset, world, rank)
    workers = loader_workers(config.workers, device)
    if workers:
        # Forked crop workers inherit OpenCV's thread pool without its threads and can hang in it:
        # with one thread OpenCV never enters the pool (here or in the workers).
        import cv2

        cv2.setNumThreads(1)
    # Workers are forked afresh each epoch (not persistent), so they see the epoch set_epoch chose.
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True, num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    net = distributed.wrap(model, device)
    class_weights = torch.tensor([1.0, 1.0, config.boundary_weight], device=device)
    try:
        precision = resolve_precision(config.precision, device)
    except ValueError as error:
        raise TrainingError(f"--precision: {error}") from None

    def step_loss(batch):
        images, classes, distance = batch
        images = images.to(device, non_blocking=True)
        if device.type == "cpu":
            images = images.contiguous(memory_format=torch.channels_last)
        return segmentation_loss(net(images), classes.to(device), distance.to(device), class_weights, distance_head)

    def validate() -> dict:
        return _validate(model, val_samples, multiple, device, class_weights, distance_head, params, precision)[0]

    parts = NetworkParts(model, loader, dataset, step_loss, validate, {"architecture": architecture},
                         sampler=sampler, score_base=base_state is not None, precision=precision,
                         start_event={"input_scale": scale["input_scale"], "scale_note": _scale_note(scale, base_info, config.input_scale)})
    result = run_epochs(config, parts, split, emit, should_stop, device, rank, world)
    best_epoch, stopped, base_metrics = result.best_epoch, result.stopped, result.base_metrics
    best_state = load_weights(out / WEIGHTS_NAME, device)
    model.load_state_dict(best_state)
    final_metrics, maps = _validate(model, val_samples, multiple, device, class_weights, distance_head, params,
                                    precision)
    if config.tune_thresholds and val_samples:
        params, _ = tune_thresholds(maps, val_samples, params)
        final_metrics.update(score_maps(maps, val_samples, params))
    card = build_card(config, _unet_model(architecture), normalization, params.to_json(), base_info, samples,
                      train_samples, val_samples, result.history, best_epoch, result.elapsed, stopped,
                      parameter_count(model), world, honest_validation(split, base_metrics, final_metrics))
    card["scale"] = scale
    card["training"]["precision"] = precision  # what "auto" chose on this machine
    if rank == 0:
        from seggui.ml.cards import write_card

        write_card(card, out / CARD_NAME)
    kept_checkpoint = settle_checkpoint(out / CHECKPOINT_NAME, stopped, config.keep_checkpoint) if rank == 0 else None
    emit({"event": "done", "out": str(out), "best_epoch": best_epoch, "stopped": stopped, "checkpoint": kept_checkpoint,
          "val": final_metrics, "base_val": base_metrics, "duration_s": round(result.elapsed, 1)})
    return card


def loader_workers(asked: int | None, device: torch.device) -> int:
    """Crop-preparing processes: as asked, else none on the CPU (the training threads use the
    cores) and up to 8 on a GPU (one core stays for the training process)."""
    if asked is not None:
        if asked < 0:
            raise TrainingError("--workers must be 0 or more")
        return asked
    if device.type == "cpu":
        return 0
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def _training_scale(config: TrainConfig, base_info) -> dict:
    """The card's `scale`: a fine-tune measures the person's cells and resizes its images so
    they reach the base model's cell size (seggui.ml.scale); from scratch, images stay as they are."""
    if base_info is None:
        return {"cell_diameter": DEFAULT_CELL_DIAMETER, "input_scale": 1.0}
    model_diameter, _ = card_scale(base_info.card)
    measured = None
    if config.input_scale is not None:
        factor = float(config.input_scale)
    else:
        label_images = []
        for pair in load_pairs(config):
            labels = training_data.read_labels(pair.mask_paths)
            if pair.ignore_ids:
                labels = np.where(np.isin(labels, pair.ignore_ids), 0, labels)
            if pair.verified_ids is not None:
                # On a partly verified image only the verified cells are a person's; the rest
                # may be the base model's proposal, cut at the base model's own (wrong) size.
                labels = np.where(np.isin(labels, pair.verified_ids), labels, 0)
            label_images.append(labels)
        measured = median_cell_diameter(label_images)
        factor = input_scale_for(model_diameter, measured)
    return {"cell_diameter": model_diameter, "input_scale": factor,
            "measured_cell_diameter": None if measured is None else round(measured, 2)}


def _scale_note(scale: dict, base_info, asked: float | None = None) -> str:
    """What the run did about cell size, in words for the log and the Training dock."""
    if base_info is None:
        return f"cells as they are (median diameter {scale['cell_diameter']:.0f} px)"
    measured = scale.get("measured_cell_diameter")
    if asked == 1.0:
        return "images used at their own size, as asked"
    if asked is not None:
        return f"images resized by {scale['input_scale']:g} as asked"
    if measured is None:
        return "no cells in the masks to measure: images are used at their own size"
    if scale["input_scale"] == 1.0:
        return f"cells {measured:.0f} px across, close to the base model's {scale['cell_diameter']:.0f} px: no resize"
    return (f"cells {measured:.0f} px across, the base model's {scale['cell_diameter']:.0f} px: images resized "
            f"by {scale['input_scale']:g} for training and prediction")


def _validate(model, samples, multiple, device, class_weights, distance_head, params, precision="float32"):
    """Validation in the precision the run trains in: the app predicts in the same one."""
    was_training = model.training
    model.eval()
    losses, maps = [], []
    with torch.inference_mode():
        for sample in samples:
            with autocast(device, precision):
                logits = forward_whole(model, sample.image, multiple, device).float()
            classes = torch.from_numpy(sample.classes.astype(np.int64))[None].to(device)
            distance = torch.from_numpy(sample.distance)[None].to(device)
            losses.append(float(segmentation_loss(logits, classes, distance, class_weights, distance_head)))
            maps.append(split_outputs(logits, CLASSES, distance_head))
    model.train(was_training)
    metrics = {"val_loss": float(np.mean(losses)) if losses else None}
    metrics.update(score_maps(maps, samples, params) if samples else {})
    return metrics, maps


def _unet_model(architecture: dict) -> dict:
    """The card's description of a U-Net (see runs.build_card)."""
    return {
        "kind": "unet",
        "task": "instances",
        "description": "U-Net predicting background / interior / boundary"
        + (" and distance to boundary" if architecture.get("distance_head") else "")
        + ", instances by seeded watershed",
        "architecture": architecture,
        "classes": ["background", "interior", "boundary"],
    }
