"""Fine-tuning torchvision DeepLabV3 (semantic) and Mask R-CNN (instances) bases.

`trainer.train` dispatches here when `--base` resolves to a torchvision kind. The network's
parts (its loss per batch, its validation, frozen BatchNorm) run in the one loop,
seggui.ml.training.loop, as the U-Net's do; this module adds the card that `load_model(out)`
and the registry read. Nothing is downloaded: the base state dict comes from the
registry's local file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from seggui.core.errors import TrainingError
from seggui.ml.safe_load import load_weights, state_dict_from
from seggui.ml.torchvision_models import card_for
from seggui.ml.training import data as training_data
from seggui.ml.training import torchvision_data as tvd
from seggui.ml.training.config import TrainConfig
from seggui.ml.training.loop import NetworkParts, run_epochs
from seggui.ml.training.progress import settle_checkpoint
from seggui.ml.training.runs import (
    CARD_NAME, CHECKPOINT_NAME, WEIGHTS_NAME, build_card, honest_validation, load_split,
)



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
        sample.meta.pop("raw", None)  # the decoded file is not needed again; "ignore" is (validation)
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

    def step_loss(batch):
        images, classes, labels = batch
        if semantic:
            return tvd.deeplab_loss(net, images.to(device), classes.to(device))
        inputs, targets = tvd.maskrcnn_batch(images, labels, device)
        if not inputs:
            return None  # no crop of this batch holds a cell
        return sum(model(inputs, targets).values())

    def train_mode() -> None:
        model.train()
        tvd.freeze_batchnorm(model)

    # With replaced heads the base's score is that of an untrained head: it shows what training added.
    parts = NetworkParts(model, loader, dataset, step_loss, validate, {"architecture": architecture, "kind": kind},
                         parameters=trainable, train_mode=train_mode,
                         start_event={"kind": kind, "num_classes": num_classes})
    result = run_epochs(config, parts, split, emit, should_stop, device, 0, world)
    history, best_epoch, stopped, epoch = result.history, result.best_epoch, result.stopped, result.epoch
    base_metrics = result.base_metrics
    if best_epoch == epoch and history and history[-1]["epoch"] == epoch:
        final_metrics = {k: history[-1][k] for k in ("val_loss", "val_ap50", "val_dice") if k in history[-1]}
    else:
        model.load_state_dict(load_weights(out / WEIGHTS_NAME, device))
        final_metrics = validate()
    model_card = {"kind": kind, "task": card_base["task"], "architecture": architecture, "classes": class_names,
                  "description": card_for(kind, fine_tuned_from=info.name)["description"]}
    card = build_card(config, model_card, normalization, None, info, samples, train_samples, val_samples, history,
                      best_epoch, result.elapsed, stopped, parameter_count(model), world,
                      honest_validation(split, base_metrics, final_metrics))
    from seggui.ml.cards import write_card

    write_card(card, out / CARD_NAME)
    kept_checkpoint = settle_checkpoint(out / CHECKPOINT_NAME, stopped, config.keep_checkpoint)
    emit({"event": "done", "out": str(out), "best_epoch": best_epoch, "stopped": stopped, "checkpoint": kept_checkpoint,
          "val": final_metrics, "base_val": base_metrics, "duration_s": round(result.elapsed, 1)})
    return card
