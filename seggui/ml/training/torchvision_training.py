"""Fine-tuning torchvision DeepLabV3 (semantic) and Mask R-CNN (instances) bases.

`trainer.train` dispatches here when `--base` resolves to a torchvision kind. Same protocol
as the U-Net loop: start / epoch / checkpoint / done events, epochs or minutes budget,
should_stop checked after every step, atomic checkpoint.pt (for --resume), best weights.pt
by validation AP@0.5, and a card.json that `load_model(out)` and the registry read.
Nothing is downloaded: the base state dict comes from the registry's local file.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from seggui.core.errors import TrainingError
from seggui.ml.safe_load import atomic_save, load_weights, state_dict_from
from seggui.ml.torchvision_models import card_for
from seggui.ml.training import data as training_data
from seggui.ml.training import torchvision_data as tvd
from seggui.ml.training.config import TrainConfig
from seggui.ml.training.progress import report_epoch, resume_from, settle_checkpoint
from seggui.ml.training.runs import (
    CARD_NAME, CHECKPOINT_NAME, WEIGHTS_NAME, Clock, build_card, honest_validation, load_split,
)

DEFAULT_EPOCHS = 50


def _cpu_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def train_torchvision(config: TrainConfig, info, emit, should_stop, device: torch.device, world: int) -> dict:
    """Fine-tune the torchvision model `info` (a registry ModelInfo); returns the card."""
    from seggui.ml.unet import parameter_count

    kind = info.kind
    if world > 1:
        raise TrainingError(f"fine-tuning {kind} under torchrun is not supported; run it as one process")
    if not info.available:
        raise TrainingError(f"base model {info.name!r} unavailable: {info.unavailable_reason}", info.weights)
    out = Path(config.out)
    semantic = kind.startswith("deeplabv3")
    base_classes = int(info.card["architecture"]["num_classes"])
    state = state_dict_from(load_weights(info.weights, device), info.weights)
    normalization = dict(info.card.get("normalization") or card_for(kind)["normalization"])

    def load(pair):
        sample = training_data.load_sample(pair, 3, normalization)
        sample.meta.clear()
        return tvd.as_crop_sample(sample)

    split = load_split(config, load)
    samples = split.samples
    class_names = ["background", "foreground"]
    num_classes = len(class_names)
    if not any(s.labels.any() for s in samples):
        raise TrainingError("the masks hold no instances: nothing to learn", config.masks or config.project)
    train_samples, val_samples = split.training, split.validation

    model, aux = tvd.build_for_finetuning(kind, base_classes, state, num_classes)
    del state
    model.to(device)
    net = tvd.DeepLabLogits(model) if semantic else model
    architecture = {**card_for(kind, num_classes=num_classes)["architecture"], "aux_loss": aux}
    card_base = {**card_for(kind, config.name or out.name, num_classes), "normalization": normalization}

    def validate() -> dict:
        if semantic:
            return tvd.validate_deeplab(net, val_samples, device)
        return tvd.validate_maskrcnn(model, card_base, val_samples, device)

    # Mask R-CNN needs whole instances in a crop more than DeepLab does: no padding beyond the
    # smallest image, where reflected copies would share an instance id with the original.
    crop_size = config.crop_size
    if not semantic:
        crop_size = min(crop_size, *(min(s.labels.shape) for s in train_samples))
    crops = max(config.crops_per_epoch or max(64, 8 * len(train_samples)), config.batch_size)
    dataset = training_data.CropDataset(train_samples, crop_size, crops, config.seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=False,
                                         drop_last=True, num_workers=0)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)

    epochs_limit = config.epochs if config.epochs is not None else (None if config.minutes else DEFAULT_EPOCHS)
    budget_s = config.minutes * 60 if config.minutes else None
    total_steps = epochs_limit * len(loader) if epochs_limit else None

    checkpoint_path = out / CHECKPOINT_NAME
    start_epoch, step, best_ap, best_epoch, elapsed_before, history = resume_from(
        checkpoint_path, config, device, model, optimizer, {"architecture": architecture, "kind": kind})
    out.mkdir(parents=True, exist_ok=True)

    base_metrics = None
    if start_epoch == 0:
        # With replaced heads this scores an untrained head: it shows what training added.
        base_metrics = validate()
    elif history:
        base_metrics = history[0].get("base_metrics")

    clock = Clock(elapsed_before)
    parameters = parameter_count(model)
    emit({
        "event": "start", "images": len(samples), "train_images": len(train_samples),
        "val_images": len(val_samples), "validation_measured": split.measured, "validation_note": split.note,
        "epochs": epochs_limit, "minutes": config.minutes,
        "device": str(device), "world_size": world, "parameters": parameters,
        "resumed_from_epoch": start_epoch if config.resume else None, "out": str(out),
        "kind": kind, "num_classes": num_classes,
    })

    def learning_rate() -> float:
        parts = [step / total_steps] if total_steps else []
        if budget_s:
            parts.append(clock.elapsed / budget_s)
        p = min(1.0, max(parts) if parts else 0.0)
        if p < config.warmup_fraction:
            return config.learning_rate * max(0.05, p / config.warmup_fraction)
        q = (p - config.warmup_fraction) / max(1e-9, 1 - config.warmup_fraction)
        return config.learning_rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * q)))

    def step_loss(images, classes, labels):
        if semantic:
            return tvd.deeplab_loss(net, images.to(device), classes.to(device))
        inputs, targets = tvd.maskrcnn_batch(images, labels, device)
        if not inputs:
            return None  # no crop of this batch holds a cell
        return sum(model(inputs, targets).values())

    stopped = None
    epoch = start_epoch
    while stopped is None:
        if epochs_limit is not None and epoch >= epochs_limit:
            break
        epoch_start = time.monotonic()
        dataset.set_epoch(epoch)
        model.train()
        tvd.freeze_batchnorm(model)
        losses, steps_tried = [], 0
        for images, classes, labels in loader:
            steps_tried += 1
            for group in optimizer.param_groups:
                group["lr"] = learning_rate()
            loss = step_loss(images, classes, labels)
            if loss is not None:
                if not torch.isfinite(loss):
                    raise TrainingError(f"training diverged (loss {loss.item()}) at epoch {epoch + 1}; "
                                        "lower the learning rate")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
                optimizer.step()
                losses.append(float(loss.detach()))
            step += 1
            if should_stop() or (budget_s is not None and clock.elapsed >= budget_s):
                stopped = "signal" if should_stop() else "time budget"
                break
        if not steps_tried:
            break
        epoch += 1
        metrics = validate()
        record = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else None, **metrics,
                  "lr": learning_rate(), "seconds": time.monotonic() - epoch_start}
        if epoch == 1 and base_metrics is not None:
            record["base_metrics"] = base_metrics
        history.append(record)
        ap = metrics.get("val_ap50", 0.0)
        best_loss = next((h.get("val_loss") for h in history if h["epoch"] == best_epoch), None)
        improved = ap > best_ap or (ap == best_ap and (metrics.get("val_loss") or 0.0) < (best_loss or 0.0))
        if improved:
            best_ap, best_epoch = ap, epoch
            atomic_save(_cpu_state(model), out / WEIGHTS_NAME)
        atomic_save({
            "model": _cpu_state(model), "optimizer": optimizer.state_dict(), "kind": kind,
            "epoch": epoch, "step": step, "best_ap": best_ap, "best_epoch": best_epoch,
            "elapsed_s": clock.elapsed, "history": history, "architecture": architecture,
            "torch_rng": torch.get_rng_state(),
        }, checkpoint_path)
        due = report_epoch(emit, record, epoch=epoch, start_epoch=start_epoch, epochs_limit=epochs_limit,
                           elapsed=clock.elapsed, elapsed_before=elapsed_before, budget_s=budget_s,
                           checkpoint_path=checkpoint_path, best_epoch=best_epoch, best_ap=best_ap,
                           improved=improved, patience=config.patience)
        if stopped is None and due:
            stopped = "early stopping"

    if not (out / WEIGHTS_NAME).is_file():
        raise TrainingError("training stopped before the first epoch finished; no weights written", out)
    if best_epoch == epoch and history and history[-1]["epoch"] == epoch:
        final_metrics = {k: history[-1][k] for k in ("val_loss", "val_ap50", "val_dice") if k in history[-1]}
    else:
        model.load_state_dict(load_weights(out / WEIGHTS_NAME, device))
        final_metrics = validate()
    model_card = {"kind": kind, "task": card_base["task"], "architecture": architecture, "classes": class_names,
                  "description": card_for(kind, fine_tuned_from=info.name)["description"]}
    card = build_card(config, model_card, normalization, None, info, samples, train_samples, val_samples, history,
                      best_epoch, clock.elapsed, stopped, parameters, world,
                      honest_validation(split, base_metrics, final_metrics))
    from seggui.ml.cards import write_card

    write_card(card, out / CARD_NAME)
    kept_checkpoint = settle_checkpoint(checkpoint_path, stopped, config.keep_checkpoint)
    emit({"event": "done", "out": str(out), "best_epoch": best_epoch, "stopped": stopped, "checkpoint": kept_checkpoint,
          "val": final_metrics, "base_val": base_metrics, "duration_s": round(clock.elapsed, 1)})
    return card
