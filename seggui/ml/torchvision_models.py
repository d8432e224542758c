"""torchvision DeepLabV3 (ResNet-50, MobileNetV3-Large) and Mask R-CNN (ResNet-50-FPN).

Networks are built with weights=None and weights_backbone=None and the state dict is
loaded from a local file with weights_only=True, so nothing is ever downloaded.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from seggui.core.errors import ModelError
from seggui.ml.confidence import image_score
from seggui.ml.inference import NetworkPredictor, Prediction, PredictOptions, PredictionCancelled, Predictor
from seggui.ml.normalize import normalize_image
from seggui.ml.postprocess import relabel_sequential

# kind -> (torchvision checkpoint file name, classes of that checkpoint, description)
TORCHVISION_MODELS = {
    "deeplabv3_resnet50": ("deeplabv3_resnet50_coco-cd0a2569.pth", 21, "DeepLabV3 ResNet-50, semantic classes"),
    "deeplabv3_mobilenet_v3_large": ("deeplabv3_mobilenet_v3_large-fc3c493d.pth", 21,
                                     "DeepLabV3 MobileNetV3-Large, semantic classes"),
    "maskrcnn_resnet50_fpn": ("maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth", 91,
                              "Mask R-CNN ResNet-50-FPN, instances with boxes and scores"),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build(kind: str, num_classes: int, aux_loss: bool = False) -> torch.nn.Module:
    from torchvision.models import detection, segmentation

    if kind == "deeplabv3_resnet50":
        return segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None,
                                               num_classes=num_classes, aux_loss=aux_loss)
    if kind == "deeplabv3_mobilenet_v3_large":
        return segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                         num_classes=num_classes, aux_loss=aux_loss)
    if kind == "maskrcnn_resnet50_fpn":
        return detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=num_classes)
    raise ModelError(f"unknown torchvision model kind {kind!r}")


def card_for(kind: str, name: str | None = None, num_classes: int | None = None,
             fine_tuned_from: str | None = None) -> dict:
    filename, classes, description = TORCHVISION_MODELS[kind]
    origin = f"fine-tuned from {fine_tuned_from}" if fine_tuned_from else "COCO-pretrained unless fine-tuned"
    return {
        "format": 1,
        "name": name or kind,
        "kind": kind,
        "task": "instances" if kind.startswith("maskrcnn") else "semantic",
        "description": description + f" (torchvision, {origin})",
        "architecture": {"num_classes": num_classes or classes, "torchvision_file": filename},
        "normalization": {"method": "percentile", "low_percentile": 1.0, "high_percentile": 99.8},
    }


def load(kind: str, card: dict, state: dict, path, device: torch.device) -> Predictor:
    from seggui.ml.checked_build import build_checked

    classes = int(card["architecture"]["num_classes"])
    aux = any(k.startswith("aux_classifier.") for k in state)
    model = build_checked(lambda: build(kind, classes, aux_loss=aux), state, path, f"{kind} with {classes} classes")
    name = card.get("name", kind)
    if kind.startswith("deeplabv3"):
        return NetworkPredictor(name, card, device, model, 3, classes, False, 8, IMAGENET_MEAN, IMAGENET_STD)
    return MaskRCNNPredictor(name, card, device, model)


class MaskRCNNPredictor(Predictor):
    """Instances with boxes and scores. Large images are tiled; a detection is kept by the
    tile whose central region contains its box centre, so seams do not duplicate cells."""

    def __init__(self, name, card, device, model):
        super().__init__(name, card, device)
        self.model = model.eval().to(device)

    def _detect(self, tile: torch.Tensor, threshold: float):
        out = self.model([tile.to(self.device)])[0]
        keep = out["scores"] >= threshold
        return {k: v[keep].cpu() for k, v in out.items()}

    @torch.inference_mode()
    def predict(self, image, options: PredictOptions | None = None, progress=None, cancelled=None) -> Prediction:
        from seggui.ml.inference import tile_starts

        options = options or PredictOptions()
        start = time.perf_counter()
        normalization = self.card.get("normalization", {})
        planes = np.clip(normalize_image(np.asarray(image), 3, normalization.get("low_percentile", 1.0),
                                         normalization.get("high_percentile", 99.8)), 0, 1)
        timings = {"normalize": time.perf_counter() - start}
        start = time.perf_counter()
        height, width = planes.shape[1:]
        tile = max(256, options.tile)
        overlap = min(options.overlap, tile // 4)
        ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
        tensor = torch.from_numpy(planes)
        labels = np.zeros((height, width), dtype=np.int64)
        probability = np.zeros((height, width), dtype=np.float32)
        scores: dict[int, float] = {}
        next_id, total, done = 0, len(ys) * len(xs), 0
        for y in ys:
            for x in xs:
                if cancelled is not None and cancelled():
                    raise PredictionCancelled()
                crop = tensor[:, y : y + tile, x : x + tile]
                found = self._detect(crop, options.score_threshold)
                # Paint low scores first so that confident detections win overlaps.
                order = torch.argsort(found["scores"])
                for index in order.tolist():
                    x0, y0, x1, y1 = found["boxes"][index].tolist()
                    cy, cx = y + (y0 + y1) / 2, x + (x0 + x1) / 2
                    if not _owns(cy, y, ys, tile, overlap, height) or not _owns(cx, x, xs, tile, overlap, width):
                        continue
                    mask = found["masks"][index, 0].numpy()
                    region = labels[y : y + crop.shape[1], x : x + crop.shape[2]]
                    next_id += 1
                    region[mask > 0.5] = next_id
                    prob_region = probability[y : y + crop.shape[1], x : x + crop.shape[2]]
                    np.maximum(prob_region, mask, out=prob_region)
                    scores[next_id] = float(found["scores"][index])
                done += 1
                if progress is not None:
                    progress(done, total)
        timings["network"] = time.perf_counter() - start
        start = time.perf_counter()
        kept = np.unique(labels)
        kept = kept[kept > 0]
        final = relabel_sequential(labels)
        scores = {new: scores[int(old)] for new, old in enumerate(kept.tolist(), start=1)}
        timings["postprocess"] = time.perf_counter() - start
        # Mask R-CNN's own detection score is each cell's confidence.
        return Prediction(final, probability, scores, timings=timings,
                          image_score=image_score(final, scores, probability))


def _owns(centre: float, start: int, starts: list[int], tile: int, overlap: int, length: int) -> bool:
    """Does the tile at `start` own a detection centred at `centre` (image coordinates)?"""
    index = starts.index(start)
    low = start + overlap / 2 if index > 0 else 0
    high = starts[index + 1] + overlap / 2 if index + 1 < len(starts) else length
    return low <= centre < high
