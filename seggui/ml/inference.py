"""Running a model on an image: normalisation, tiled batched forward passes with blended
overlaps, post-processing into instance labels.

Tiles are streamed: only one batch of tiles is on the device at a time, and the blended
outputs accumulate in float32 arrays of the image's size, so a 4096x4096 image needs a few
hundred MB whatever the tile count.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from seggui.ml.confidence import NETWORK_WEIGHTS, image_score, network_cues, scores_and_cues
from seggui.ml.normalize import normalize_image
from seggui.ml.precision import autocast, resolve
from seggui.ml.scale import card_scale, resize_image
from seggui.ml.postprocess import (
    InstanceParams,
    instances_from_outputs,
    instances_from_semantic,
    semantic_from_probabilities,
)

ProgressCallback = Callable[[int, int], None]


class PredictionCancelled(Exception):
    """Raised from Predictor.predict when the `cancelled` callable returned True."""


@dataclass
class PredictOptions:
    tile: int = 1024  # tile side in pixels; images up to this size run in one pass
    overlap: int = 64  # pixels shared by neighbouring tiles, blended linearly
    batch_size: int = 2  # tiles per forward pass; 2 x 1024^2 keeps CPU memory under ~1 GB
    # Average the maps over four flips (4x the network time, slightly more accurate); None:
    # where it stays quick (NetworkPredictor.auto_flips).
    test_time_flips: bool | None = None
    postprocess: dict | None = None  # overrides of the card's InstanceParams
    score_threshold: float = 0.5  # Mask R-CNN detections below this are dropped
    # Per-cell confidence also from agreement with a horizontally flipped pass (2x the network
    # time; see seggui.ml.confidence).
    score_flip: bool = False
    # "float32", "bfloat16" (CPU) or "auto": bfloat16 where the CPU computes it natively, about
    # three times as fast (seggui.ml.precision); CUDA always runs float16 mixed precision.
    precision: str = "auto"


@dataclass
class Prediction:
    labels: np.ndarray  # (H, W) uint16/uint32 instance ids, 0 = background
    probability: np.ndarray | None = None  # (H, W) float32 foreground probability
    scores: dict[int, float] | None = None  # instance id -> confidence in [0, 1], every cell
    classes: np.ndarray | None = None  # (H, W) semantic class ids, for semantic models
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    image_score: float | None = None  # the image's confidence in [0, 1] (seggui.ml.confidence)
    cues: dict[str, dict[int, float]] | None = None  # what the scores were made of, per cue and cell


def pick_device(name: str = "auto") -> torch.device:
    from seggui.core.errors import ModelError

    if name in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' requested but no CUDA GPU is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("device 'mps' requested but Apple MPS is not available")
    if name not in ("cpu", "cuda", "mps"):
        raise ModelError(f"unknown device {name!r} (use auto, cpu, cuda or mps)")
    return torch.device(name)


def default_threads(leave_one_for_gui: bool = False) -> int:
    """CPU threads for torch: all cores the process may use, or all but one beside the GUI.

    From the command line (`seggui predict`, `seggui train`) the work is the foreground task
    and takes every core. When the GUI is running (pre-segmenting in a GUI job, or the
    `seggui train` child the Training dock starts) `leave_one_for_gui=True` keeps one core
    free so the GUI thread stays responsive.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores - 1 if leave_one_for_gui else cores)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def blend_window(tile: int, overlap: int) -> np.ndarray:
    """Linear ramps over the overlap: a tile's uncertain borders count less than its centre."""
    ramp = np.ones(tile, dtype=np.float32)
    if overlap > 0:
        edge = np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1)
        ramp[:overlap] = edge
        ramp[-overlap:] = edge[::-1]
    return np.outer(ramp, ramp)


class Predictor:
    """Base class: a loaded model ready to segment raw image arrays."""

    name: str = ""
    task: str = "instances"

    def __init__(self, name: str, card: dict, device: torch.device):
        self.name = name
        self.card = card
        self.device = device
        self.task = card.get("task", "instances")

    def predict(self, image: np.ndarray, options: PredictOptions | None = None,
                progress: ProgressCallback | None = None,
                cancelled: Callable[[], bool] | None = None) -> Prediction:
        raise NotImplementedError


def fold_batch_norm(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of an eval-mode model with each BatchNorm folded into the convolution before it.

    The outputs are the same to float rounding; each activation is read once less, which
    takes about a fifth off a U-Net's CPU forward pass. A model torch.fx cannot trace
    (control flow on values) is returned as it is."""
    from torch.fx.experimental.optimization import fuse

    try:
        return fuse(model)
    except Exception:  # any tracing failure only costs the speed-up
        return model


# 512 x 768: four passes of it take about as long as one of 1024 x 1024 (1.0 s on 2 cores).
AUTO_FLIP_PIXELS = 512 * 768


class NetworkPredictor(Predictor):
    """A dense-output network (U-Net, DeepLabV3): tiles in, per-pixel maps out."""

    def __init__(self, name: str, card: dict, device: torch.device, model: torch.nn.Module,
                 in_channels: int, classes: int, distance_head: bool, size_multiple: int,
                 input_mean: tuple | None = None, input_std: tuple | None = None):
        super().__init__(name, card, device)
        self.model = fold_batch_norm(model.eval()).to(device)
        if device.type == "cpu":
            # channels-last convolutions are markedly faster on x86 CPUs.
            self.model = self.model.to(memory_format=torch.channels_last)
        self.in_channels = in_channels
        self.classes = classes
        self.distance_head = distance_head
        self.size_multiple = size_multiple
        self.input_mean = input_mean
        self.input_std = input_std
        normalization = card.get("normalization", {})
        self.low = float(normalization.get("low_percentile", 1.0))
        self.high = float(normalization.get("high_percentile", 99.8))
        # Images are resized by this before the network (seggui.ml.scale), maps back after.
        self.input_scale = card_scale(card)[1]

    def _forward(self, batch: torch.Tensor, precision: str = "float32") -> torch.Tensor:
        if self.input_mean is not None:
            mean = torch.tensor(self.input_mean, device=batch.device).view(1, -1, 1, 1)
            std = torch.tensor(self.input_std, device=batch.device).view(1, -1, 1, 1)
            batch = (batch.clamp(0, 1) - mean) / std
        if self.device.type == "cpu":
            batch = batch.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, precision):
            out = self.model(batch)
        if isinstance(out, dict):
            out = out["out"]
        return out.float()

    def _maps(self, batch: torch.Tensor, flips: bool, precision: str = "float32") -> torch.Tensor:
        """Probabilities (and sigmoid distance) for a batch; flips averaged if asked."""
        variants = [(), (3,), (2,), (2, 3)] if flips else [()]
        total = None
        for dims in variants:
            x = torch.flip(batch, dims) if dims else batch
            logits = self._forward(x, precision)
            maps = torch.softmax(logits[:, : self.classes], dim=1)
            if self.distance_head:
                maps = torch.cat([maps, torch.sigmoid(logits[:, self.classes : self.classes + 1])], dim=1)
            maps = torch.flip(maps, dims) if dims else maps
            total = maps if total is None else total + maps
        return total / len(variants)

    @torch.inference_mode()
    def dense_maps(self, planes: np.ndarray, options: PredictOptions,
                   progress: ProgressCallback | None, cancelled) -> np.ndarray:
        """(C, H, W) normalised input -> (K[+1], H, W) float32 maps, tiled and blended."""
        channels, height, width = planes.shape
        multiple = self.size_multiple
        tile = max(multiple, (options.tile // multiple) * multiple)
        # Pad so that every tile is full and a multiple of the network's stride.
        padded_h = max(height, tile) if height > tile else -(-height // multiple) * multiple
        padded_w = max(width, tile) if width > tile else -(-width // multiple) * multiple
        tile_h, tile_w = min(tile, padded_h), min(tile, padded_w)
        image = torch.from_numpy(planes)
        if padded_h != height or padded_w != width:
            mode = "reflect" if padded_h - height < height and padded_w - width < width else "replicate"
            image = F.pad(image[None], (0, padded_w - width, 0, padded_h - height), mode=mode)[0]
        overlap = min(options.overlap, tile_h // 4, tile_w // 4)
        ys, xs = tile_starts(padded_h, tile_h, overlap), tile_starts(padded_w, tile_w, overlap)
        positions = [(y, x) for y in ys for x in xs]
        outputs = self.classes + (1 if self.distance_head else 0)
        precision = resolve(options.precision, self.device)
        if len(positions) == 1:
            window = None
            accumulated = None
        else:
            window_np = blend_window(tile_h, overlap) if tile_h == tile_w else np.outer(
                blend_window(tile_h, overlap)[:, tile_h // 2], blend_window(tile_w, overlap)[tile_w // 2])
            window = torch.from_numpy(window_np)
            accumulated = torch.zeros((outputs, padded_h, padded_w), dtype=torch.float32)
            weights = torch.zeros((padded_h, padded_w), dtype=torch.float32)
        done = 0
        for first in range(0, len(positions), max(1, options.batch_size)):
            if cancelled is not None and cancelled():
                raise PredictionCancelled()
            chunk = positions[first : first + max(1, options.batch_size)]
            batch = torch.stack([image[:, y : y + tile_h, x : x + tile_w] for y, x in chunk]).to(self.device)
            maps = self._maps(batch, options.test_time_flips, precision).cpu()
            if accumulated is None:
                result = maps[0]
            else:
                for (y, x), tile_maps in zip(chunk, maps):
                    accumulated[:, y : y + tile_h, x : x + tile_w] += tile_maps * window
                    weights[y : y + tile_h, x : x + tile_w] += window
            done += len(chunk)
            if progress is not None:
                progress(done, len(positions))
        if accumulated is not None:
            result = accumulated.div_(weights)
        return result[:, :height, :width].numpy()

    def scaled_maps(self, planes: np.ndarray, options: PredictOptions,
                    progress: ProgressCallback | None, cancelled) -> np.ndarray:
        """dense_maps at the card's input scale, returned at the image's own size."""
        if self.input_scale == 1.0:
            return self.dense_maps(planes, options, progress, cancelled)
        height, width = planes.shape[1:]
        small = np.moveaxis(resize_image(np.moveaxis(planes, 0, -1), self.input_scale), -1, 0)
        maps = self.dense_maps(np.ascontiguousarray(small), options, progress, cancelled)
        full = resize_image(np.moveaxis(maps, 0, -1), 1.0, (height, width))
        return np.ascontiguousarray(np.moveaxis(full, -1, 0))

    def _params(self, options: PredictOptions) -> InstanceParams:
        """The card's watershed values; sizes chosen on validation images at the network's
        scale are converted to pixels of the image, where post-processing runs."""
        params = InstanceParams.from_json(self.card.get("postprocess", {}))
        if self.input_scale != 1.0:
            area = 1.0 / (self.input_scale * self.input_scale)
            params.min_size = max(1, int(round(params.min_size * area)))
            params.min_seed_size = max(1, int(round(params.min_seed_size * area)))
        overrides = options.postprocess or {}
        return InstanceParams.from_json({**params.to_json(), **overrides})

    def auto_flips(self, height: int, width: int) -> bool:
        """Test-time flips when asked for neither way: always on a GPU; on a CPU while the
        image (at the network's scale) has at most AUTO_FLIP_PIXELS, so that four passes cost
        about what one pass of a 1024 x 1024 image does. (98 held-out DSB2018 images, AP@0.5
        per image, without / with flips: fluorescence 0.851 / 0.856, stained 0.603 / 0.634, all
        0.798 / 0.808.)"""
        if self.device.type != "cpu":
            return True
        return height * width * self.input_scale * self.input_scale <= AUTO_FLIP_PIXELS

    @torch.inference_mode()
    def predict(self, image, options=None, progress=None, cancelled=None) -> Prediction:
        options = options or PredictOptions()
        if options.test_time_flips is None:
            options = replace(options, test_time_flips=self.auto_flips(*np.asarray(image).shape[:2]))
        timings = {}
        start = time.perf_counter()
        planes = normalize_image(np.asarray(image), self.in_channels, self.low, self.high)
        timings["normalize"] = time.perf_counter() - start
        start = time.perf_counter()
        maps = self.scaled_maps(planes, options, progress, cancelled)
        timings["network"] = time.perf_counter() - start
        start = time.perf_counter()
        probabilities = maps[: self.classes]
        foreground = (1.0 - probabilities[0]).astype(np.float32)
        interior = probabilities[1] if self.classes > 1 else None
        if self.task == "semantic":
            classes = semantic_from_probabilities(probabilities)
            labels = instances_from_semantic(classes)
            scores, cues = scores_and_cues(*network_cues(labels, foreground), NETWORK_WEIGHTS)
            prediction = Prediction(labels, foreground, scores, classes, cues=cues)
        else:
            params = self._params(options)
            distance = maps[self.classes] if self.distance_head else None
            labels = instances_from_outputs(probabilities, distance, params)
            flipped = None
            if options.score_flip:  # the same image mirrored left-right, segmented on its own
                flip_start = time.perf_counter()
                flip_maps = self.scaled_maps(np.ascontiguousarray(planes[:, :, ::-1]), options, None, cancelled)
                flipped = instances_from_outputs(
                    flip_maps[: self.classes], flip_maps[self.classes] if self.distance_head else None,
                    params)[:, ::-1]
                timings["flip"] = time.perf_counter() - flip_start
            scores, cues = scores_and_cues(*network_cues(labels, foreground, distance, interior, flipped),
                                           NETWORK_WEIGHTS)
            prediction = Prediction(labels, foreground, scores, cues=cues)
        prediction.image_score = image_score(labels, prediction.scores or {}, foreground)
        timings["postprocess"] = time.perf_counter() - start - timings.get("flip", 0.0)
        prediction.timings = timings
        return prediction

    @torch.inference_mode()
    def bare_forward_seconds(self, height: int, width: int, options: PredictOptions | None = None) -> float:
        """Time of the network alone on a random image of this size (for benchmarks)."""
        options = options or PredictOptions()
        planes = np.random.default_rng(0).random((self.in_channels, height, width), dtype=np.float32)
        start = time.perf_counter()
        self.dense_maps(planes, options, None, None)
        return time.perf_counter() - start
