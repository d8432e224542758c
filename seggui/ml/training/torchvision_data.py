"""Models, targets and validation for fine-tuning torchvision DeepLabV3 and Mask R-CNN.

Samples reuse data.Sample and data.CropDataset (random crops, rotations, flips, intensity
jitter) with two fields repurposed: `classes` holds the semantic class map (0 background,
1.. classes) and `distance` holds the instance labels as float32 (exact below 2**24), so
CropDataset crops and flips them together with the image.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from seggui.core.errors import TrainingError
from seggui.ml.metrics import foreground_dice, iou_matrix, match
from seggui.ml.postprocess import instances_from_semantic, semantic_from_probabilities
from seggui.ml.torchvision_models import IMAGENET_MEAN, IMAGENET_STD, TORCHVISION_MODELS, build
from seggui.ml.training.data import Sample
from seggui.ml.training.validation import forward_whole

DEEPLAB_MULTIPLE = 8
MIN_INSTANCE_PIXELS = 4


def is_torchvision_kind(kind: str) -> bool:
    return kind in TORCHVISION_MODELS


def semantic_classes(labels: np.ndarray, instance_classes: dict[int, int] | None = None) -> np.ndarray:
    """Class map from instance labels: table classes (1..) where given, else class 1."""
    classes = (labels > 0).astype(np.uint8)
    for instance, class_id in (instance_classes or {}).items():
        classes[labels == instance] = int(class_id)
    return classes


def as_crop_sample(sample: Sample, instance_classes: dict[int, int] | None = None) -> Sample:
    """The repurposed Sample described in the module docstring (validation uses .labels)."""
    if sample.labels.max(initial=0) >= 2**24:
        raise TrainingError(f"image {sample.stem} has more than 2**24 instances")
    return Sample(sample.stem, sample.image, sample.labels, semantic_classes(sample.labels, instance_classes),
                  sample.labels.astype(np.float32), sample.sha256)


def imagenet_input(images: torch.Tensor) -> torch.Tensor:
    """What NetworkPredictor feeds DeepLabV3: clamp to [0, 1], then ImageNet mean/std."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, -1, 1, 1)
    return (images.clamp(0, 1) - mean) / std


def freeze_batchnorm(model: nn.Module) -> None:
    """Keep BatchNorm running statistics: small fine-tuning batches would ruin them."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _replace_last_conv(head: nn.Sequential, num_classes: int) -> None:
    last = head[-1]
    if not isinstance(last, nn.Conv2d):
        raise TrainingError(f"unexpected DeepLabV3 head ending in {type(last).__name__}")
    head[-1] = nn.Conv2d(last.in_channels, num_classes, kernel_size=1)


def build_for_finetuning(kind: str, base_classes: int, state: dict, num_classes: int) -> tuple[nn.Module, bool]:
    """The base network with its weights, heads replaced for `num_classes` outputs when they
    differ. Returns (model, has_aux_classifier)."""
    aux = any(k.startswith("aux_classifier.") for k in state)
    model = build(kind, base_classes, aux_loss=aux) if kind.startswith("deeplabv3") else build(kind, base_classes)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise TrainingError(f"base weights do not fit {kind} with {base_classes} classes ({first})") from None
    if base_classes == num_classes:
        return model, aux
    if kind.startswith("deeplabv3"):
        _replace_last_conv(model.classifier, num_classes)
        if aux:
            _replace_last_conv(model.aux_classifier, num_classes)
    else:
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
        from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

        box_in = model.roi_heads.box_predictor.cls_score.in_features
        model.roi_heads.box_predictor = FastRCNNPredictor(box_in, num_classes)
        mask_in = model.roi_heads.mask_predictor.conv5_mask.in_channels
        model.roi_heads.mask_predictor = MaskRCNNPredictor(mask_in, 256, num_classes)
    return model, aux


class DeepLabLogits(nn.Module):
    """DeepLabV3 on percentile-normalised planes, as NetworkPredictor runs it: main logits
    (and aux logits in training)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, with_aux: bool = False):
        out = self.model(imagenet_input(images))
        return (out["out"], out.get("aux")) if with_aux else out["out"]


def deeplab_loss(net: DeepLabLogits, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    logits, aux = net(images, with_aux=True)
    loss = F.cross_entropy(logits.float(), classes)
    if aux is not None:
        loss = loss + 0.5 * F.cross_entropy(aux.float(), classes)
    return loss


def maskrcnn_targets(labels: np.ndarray, instance_classes: dict[int, int] | None = None) -> dict | None:
    """boxes (x0, y0, x1, y1), labels and masks of the instances in one crop; None if none."""
    boxes, classes, masks = [], [], []
    for instance in np.unique(labels):
        if instance == 0:
            continue
        mask = labels == instance
        if mask.sum() < MIN_INSTANCE_PIXELS:
            continue
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        classes.append(int((instance_classes or {}).get(int(instance), 1)))
        masks.append(mask)
    if not boxes:
        return None
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32),
        "labels": torch.tensor(classes, dtype=torch.int64),
        "masks": torch.from_numpy(np.stack(masks).astype(np.uint8)),
    }


def maskrcnn_batch(images: torch.Tensor, labels: torch.Tensor, device) -> tuple[list, list]:
    """Mask R-CNN inputs (clamped planes) and targets for the crops that hold instances."""
    inputs, targets = [], []
    for image, crop_labels in zip(images, labels):
        target = maskrcnn_targets(np.rint(crop_labels.numpy()).astype(np.int64))
        if target is None:
            continue
        inputs.append(image.clamp(0, 1).to(device))
        targets.append({k: v.to(device) for k, v in target.items()})
    return inputs, targets


def _scores(true_labels: list[np.ndarray], predicted: list[np.ndarray]) -> dict:
    aps = [match(iou_matrix(t, p), 0.5).ap for t, p in zip(true_labels, predicted)]
    dices = [foreground_dice(t, p) for t, p in zip(true_labels, predicted)]
    return {"val_ap50": float(np.mean(aps)), "val_dice": float(np.mean(dices))}


@torch.inference_mode()
def validate_deeplab(net: DeepLabLogits, samples: list[Sample], device) -> dict:
    """val_loss (cross-entropy), val_ap50 and val_dice of instances by connected components
    of the argmax classes, exactly the semantic predictor's post-processing."""
    if not samples:
        return {"val_loss": None}
    was_training = net.training
    net.eval()
    losses, predicted = [], []
    for sample in samples:
        logits = forward_whole(net, sample.image, DEEPLAB_MULTIPLE, device).float()
        target = torch.from_numpy(sample.classes.astype(np.int64))[None].to(device)
        losses.append(float(F.cross_entropy(logits, target)))
        probabilities = torch.softmax(logits[0], dim=0).cpu().numpy()
        predicted.append(instances_from_semantic(semantic_from_probabilities(probabilities)))
    net.train(was_training)
    if was_training:
        freeze_batchnorm(net)
    return {"val_loss": float(np.mean(losses)), **_scores([s.labels for s in samples], predicted)}


def validate_maskrcnn(model: nn.Module, card: dict, samples: list[Sample], device) -> dict:
    """val_ap50 and val_dice from the Mask R-CNN predictor itself. The planes are already
    normalised and clipped to [0, 1], so a min/max normalisation passes them through."""
    from seggui.ml.torchvision_models import MaskRCNNPredictor

    if not samples:
        return {"val_loss": None}
    was_training = model.training
    passthrough = {**card, "normalization": {"method": "percentile", "low_percentile": 0.0,
                                             "high_percentile": 100.0}}
    predictor = MaskRCNNPredictor(card.get("name", "validation"), passthrough, device, model)
    predicted = []
    for sample in samples:
        planes = np.clip(sample.image, 0, 1)
        predicted.append(predictor.predict(np.moveaxis(planes, 0, -1)).labels)
    model.train(was_training)
    if was_training:
        freeze_batchnorm(model)
    # The detection losses need training mode and targets; none on whole validation images.
    return {"val_loss": None, **_scores([s.labels for s in samples], predicted)}
