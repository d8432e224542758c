"""The one training loop: every network (U-Net, DeepLabV3, Mask R-CNN) runs through
`run_epochs`, which owns what must not differ between them.

It owns the budget (epochs or minutes, summed over --resume), the learning-rate schedule
(warm-up, then cosine to 2 %), the optimiser (AdamW), mixed precision (float16 on CUDA, bfloat16
on a CPU that has it natively, for the networks that ask for it), the stop
checks after every step, per-epoch validation, the best-epoch rule (validation AP@0.5,
ties to the lower validation loss), the files (weights.pt of the best epoch, checkpoint.pt
of the last) and the events (start, epoch, checkpoint). A network brings only its parts
(`NetworkParts`): how one batch becomes a loss, how it is validated, how it is put in
training mode, and what its checkpoint must match.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from seggui.core.errors import TrainingError
from seggui.ml.precision import autocast, resolve
from seggui.ml.safe_load import atomic_save
from seggui.ml.training import distributed
from seggui.ml.training.config import TrainConfig
from seggui.ml.training.progress import report_epoch, resume_from
from seggui.ml.training.runs import CHECKPOINT_NAME, WEIGHTS_NAME, Clock

DEFAULT_EPOCHS = 50


@dataclass
class NetworkParts:
    model: torch.nn.Module  # whose state_dict is saved
    loader: torch.utils.data.DataLoader
    dataset: object  # has set_epoch(epoch)
    step_loss: Callable[[tuple], torch.Tensor | None]  # None: nothing to learn in this batch
    validate: Callable[[], dict]  # val_ap50 (and val_loss, val_dice where measured)
    checkpoint_must_match: dict  # architecture (and kind): --resume refuses another network
    parameters: list | None = None  # trainable parameters (default: all)
    train_mode: Callable[[], None] | None = None  # default: model.train()
    sampler: object = None  # a DistributedSampler under torchrun
    score_base: bool = True  # validate the starting point (the base's score)
    # seggui.ml.precision's resolved precision for the training steps; None: float16 mixed
    # precision on CUDA, float32 on a CPU (the torchvision networks: bfloat16 is unmeasured there).
    precision: str | None = None
    start_event: dict = field(default_factory=dict)  # extra fields of the start event


@dataclass
class LoopResult:
    history: list
    best_epoch: int
    best_ap: float
    stopped: str | None  # "signal", "time budget", "early stopping" or None (epochs done)
    epoch: int
    elapsed: float
    base_metrics: dict | None


def _cpu_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def run_epochs(config: TrainConfig, parts: NetworkParts, split, emit, should_stop, device: torch.device,
               rank: int = 0, world: int = 1) -> LoopResult:
    """Train `parts` under `config` until its epochs or minutes are spent, a stop is asked
    for, or early stopping; returns the history and the best epoch (saved as weights.pt)."""
    out = Path(config.out)
    model = parts.model
    parameters = parts.parameters if parts.parameters is not None else list(model.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    precision = parts.precision or resolve("float32", device)
    # float16 needs its gradients scaled; bfloat16 has float32's range and does not.
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "mixed")

    epochs_limit = config.epochs if config.epochs is not None else (None if config.minutes else DEFAULT_EPOCHS)
    budget_s = config.minutes * 60 if config.minutes else None
    total_steps = epochs_limit * len(parts.loader) if epochs_limit else None
    checkpoint_path = out / CHECKPOINT_NAME
    start_epoch, step, best_ap, best_epoch, elapsed_before, history = resume_from(
        checkpoint_path, config, device, model, optimizer, parts.checkpoint_must_match)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    # Base-vs-new comparison: the starting point scored on the same validation images.
    base_metrics = None
    if parts.score_base and start_epoch == 0:
        base_metrics = parts.validate()
    elif config.resume and history:
        base_metrics = history[0].get("base_metrics")

    clock = Clock(elapsed_before)
    from seggui.ml.unet import parameter_count

    emit({
        "event": "start", "images": len(split.samples), "train_images": len(split.training),
        "val_images": len(split.validation), "validation_measured": split.measured,
        "validation_note": split.note, "epochs": epochs_limit, "minutes": config.minutes,
        "device": str(device), "precision": precision, "world_size": world, "parameters": parameter_count(model),
        "resumed_from_epoch": start_epoch if config.resume else None, "out": str(out), **parts.start_event,
    })

    def learning_rate() -> float:
        fractions = [step / total_steps] if total_steps else []
        if budget_s:
            fractions.append(clock.elapsed / budget_s)
        p = min(1.0, max(fractions) if fractions else 0.0)
        if p < config.warmup_fraction:
            return config.learning_rate * max(0.05, p / config.warmup_fraction)
        q = (p - config.warmup_fraction) / max(1e-9, 1 - config.warmup_fraction)
        return config.learning_rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * q)))

    stopped = None
    epoch = start_epoch
    while stopped is None:
        if epochs_limit is not None and epoch >= epochs_limit:
            break
        epoch_start = time.monotonic()
        parts.dataset.set_epoch(epoch)
        if hasattr(parts.sampler, "set_epoch"):
            parts.sampler.set_epoch(epoch)
        (parts.train_mode or model.train)()
        losses, steps_tried = [], 0
        for batch in parts.loader:
            steps_tried += 1
            for group in optimizer.param_groups:
                group["lr"] = learning_rate()
            with autocast(device, precision):
                loss = parts.step_loss(batch)
            if loss is not None:
                loss = loss.float()
                if not torch.isfinite(loss):
                    raise TrainingError(f"training diverged (loss {loss.item()}) at epoch {epoch + 1}; "
                                        "lower the learning rate")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                losses.append(float(loss.detach()))
            step += 1
            local_stop = should_stop() or (budget_s is not None and clock.elapsed >= budget_s)
            if distributed.any_rank(local_stop, device):
                stopped = "signal" if should_stop() else "time budget"
                break
        if not steps_tried:
            break
        epoch += 1
        metrics = parts.validate()
        mean_loss = float(np.mean(distributed.mean(losses, device))) if losses else None
        record = {"epoch": epoch, "loss": mean_loss, **metrics, "lr": learning_rate(),
                  "seconds": time.monotonic() - epoch_start}
        if epoch == 1 and base_metrics is not None:
            record["base_metrics"] = base_metrics
        history.append(record)
        # Ties on AP (common early on, or with few validation cells) go to the lower val loss.
        ap = metrics.get("val_ap50", 0.0)
        best_loss = next((h.get("val_loss") for h in history if h["epoch"] == best_epoch), None)
        improved = ap > best_ap or (ap == best_ap and (metrics.get("val_loss") or 0.0) < (best_loss or 0.0))
        if improved:
            best_ap, best_epoch = ap, epoch
            if rank == 0:
                atomic_save(_cpu_state(model), out / WEIGHTS_NAME)
        if rank == 0:
            atomic_save({
                "model": _cpu_state(model), "optimizer": optimizer.state_dict(),
                "epoch": epoch, "step": step, "best_ap": best_ap, "best_epoch": best_epoch,
                "elapsed_s": clock.elapsed, "history": history, "torch_rng": torch.get_rng_state(),
                **parts.checkpoint_must_match,
            }, checkpoint_path)
        due = report_epoch(emit, record, epoch=epoch, start_epoch=start_epoch, epochs_limit=epochs_limit,
                           elapsed=clock.elapsed, elapsed_before=elapsed_before, budget_s=budget_s,
                           checkpoint_path=checkpoint_path, best_epoch=best_epoch, best_ap=best_ap,
                           improved=improved, patience=config.patience)
        if stopped is None and due:
            stopped = "early stopping"

    if rank == 0 and not (out / WEIGHTS_NAME).is_file():
        raise TrainingError("training stopped before the first epoch finished; no weights written", out)
    distributed.barrier()
    return LoopResult(history, best_epoch, best_ap, stopped, epoch, clock.elapsed, base_metrics)
