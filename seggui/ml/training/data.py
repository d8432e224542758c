"""Training data: image/mask pairs (by file stem, or the DSB2018 folder layout), targets,
deterministic validation split, random augmented crops.

Images are normalised once with the same function inference uses; the three-class and
distance targets are computed once on whole images so crops never invent boundaries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from seggui.core.errors import ImageReadError, TrainingError
from seggui.core.imageio import is_image_file, read_image
from seggui.ml.normalize import normalize_image
from seggui.ml.scale import equivalent_diameters, resize_image, resize_labels
from seggui.ml.targets import IGNORE, distance_target, three_class_target


@dataclass
class Pair:
    stem: str
    image_path: Path
    mask_paths: list[Path]  # one label image, or DSB's one binary PNG per instance
    ignore_ids: tuple[int, ...] = ()  # instance ids that are ignore regions, not cells
    # None: every pixel's label is known. Otherwise only these cells are (a person verified
    # them, the rest of the image may be a model's unchecked proposal): see unknown_pixels.
    verified_ids: tuple[int, ...] | None = None


@dataclass
class Sample:
    stem: str
    image: np.ndarray  # (C, H, W) float32, normalised
    labels: np.ndarray  # (H, W) int32 instances
    classes: np.ndarray  # (H, W) uint8
    distance: np.ndarray  # (H, W) float32
    sha256: str = ""
    meta: dict = field(default_factory=dict)


def heldout_by_hash(stem: str, percent: float) -> bool:
    """Deterministic, order-independent test split: the same stems are held out on every
    machine and every run, and adding images never moves old ones between splits."""
    if percent <= 0:
        return False
    value = int(hashlib.sha1(stem.encode("utf-8")).hexdigest()[:8], 16) % 10000
    return value < percent * 100


def is_dsb_layout(folder: Path) -> bool:
    try:
        for child in folder.iterdir():
            if (child / "images").is_dir() and (child / "masks").is_dir():
                return True
    except OSError:
        return False
    return False


def find_pairs(images: Path | list[Path], masks: Path | None) -> list[Pair]:
    """Image/mask pairs from `images` and `masks` folders matched by stem, or DSB folders.

    Several DSB2018-layout folders (a list) train together, e.g. dsb2018 and dsb2018-extra;
    a stem found in two of them is an error, not a silent duplicate."""
    if isinstance(images, (list, tuple)):
        if len(images) == 1:
            return find_pairs(images[0], masks)
        if masks is not None:
            raise TrainingError("several --images folders work only in DSB2018 layout, without --masks")
        pairs, seen = [], {}
        for folder in images:
            for pair in find_pairs(folder, None):
                if pair.stem in seen:
                    raise TrainingError(f"image {pair.stem} is in both {seen[pair.stem]} and {folder}", folder)
                seen[pair.stem] = folder
                pairs.append(pair)
        return pairs
    images = Path(images)
    if not images.is_dir():
        raise TrainingError("image folder not found", images)
    if masks is None:
        if not is_dsb_layout(images):
            raise TrainingError(
                "no --masks folder given and the folder is not in DSB2018 layout "
                "(<id>/images/<id>.png, <id>/masks/*.png)",
                images,
            )
        pairs = []
        for child in sorted(images.iterdir()):
            image_files = sorted((child / "images").glob("*.png")) if child.is_dir() else []
            mask_files = sorted((child / "masks").glob("*.png")) if child.is_dir() else []
            if image_files and mask_files:
                pairs.append(Pair(child.name, image_files[0], mask_files))
        if not pairs:
            raise TrainingError("no DSB2018 samples with images and masks found", images)
        return pairs
    masks = Path(masks)
    if not masks.is_dir():
        raise TrainingError("mask folder not found", masks)
    mask_by_stem = {p.stem: p for p in sorted(masks.iterdir()) if is_image_file(p)}
    pairs = [
        Pair(p.stem, p, [mask_by_stem[p.stem]])
        for p in sorted(images.iterdir())
        if is_image_file(p) and p.stem in mask_by_stem
    ]
    if not pairs:
        raise TrainingError(
            f"no image in {images} has a mask of the same name (stem) in {masks}", images
        )
    return pairs


def read_labels(paths: list[Path]) -> np.ndarray:
    """One instance label image, or the union of per-instance binary masks (DSB)."""
    if len(paths) == 1:
        array = read_image(paths[0]).array
        if array.ndim == 3:
            # A colour-coded label image: every distinct colour is one instance.
            flat = array.reshape(-1, array.shape[2])
            _, inverse = np.unique(flat, axis=0, return_inverse=True)
            colours = inverse.reshape(array.shape[:2])
            background = colours[0, 0] if (array[0, 0] == 0).all() else -1
            labels = colours + 1
            labels[colours == background] = 0
            return labels.astype(np.int32)
        if array.dtype.kind == "f":
            array = np.rint(array)
        return array.astype(np.int32)
    labels = None
    for index, path in enumerate(paths, start=1):
        mask = read_image(path).array
        if mask.ndim == 3:
            mask = mask[..., 0]
        if labels is None:
            labels = np.zeros(mask.shape, dtype=np.int32)
        elif mask.shape != labels.shape:
            raise TrainingError(f"mask size {mask.shape} differs from {labels.shape}", path)
        labels[mask > 0] = index
    return labels


# How far around a verified cell the background is taken as known, in cell diameters. The ring
# teaches where a cell ends, but a neighbour nobody outlined (the proposal missed it) lies in it
# and is taught as background: on the verified-cells benchmark's 8 Usiigaci images (30 % of the
# cells verified, the rest of the layer the nuclei model's proposal) 13-14 % of the ring's
# pixels were such cells at half a diameter, 7-8 % at a quarter. Fine-tuning 8 minutes on them
# (benchmarks/verified_cells.py, AP@0.5 on the other 5 images) reached 0.575 / 0.687 / 0.576
# at a quarter against 0.463 / 0.592 / 0.471 at half (seeds 0, 1, 2).
RING_DIAMETERS = 0.25


def unknown_pixels(labels: np.ndarray, verified: tuple[int, ...]) -> np.ndarray:
    """Where a partly verified image teaches nothing: everything but the verified cells and
    a ring of background around them (RING_DIAMETERS of a cell wide, at least 3 px, so the
    network learns where a cell ends) that no other, unchecked cell covers."""
    known_cells = np.isin(labels, verified)
    if not known_cells.any():
        return np.ones(labels.shape, dtype=bool)
    diameters = equivalent_diameters(np.where(known_cells, labels, 0))
    ring = max(3, int(round(RING_DIAMETERS * float(np.median(diameters)))))
    near = ndimage.distance_transform_edt(~known_cells) <= ring
    known = known_cells | (near & (labels == 0))
    return ~known


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_sample(pair: Pair, channels: int, normalization: dict | None = None, scale: float = 1.0) -> Sample:
    """One training image and its targets; `scale` resizes both first (see seggui.ml.scale)
    so the network learns cells at the size it will see them at inference."""
    normalization = normalization or {}
    try:
        raw = read_image(pair.image_path).array
    except ImageReadError as error:
        raise TrainingError(f"cannot read training image: {error.message}", pair.image_path)
    labels = read_labels(pair.mask_paths)
    if labels.shape != raw.shape[:2]:
        raise TrainingError(
            f"mask size {labels.shape} differs from image size {raw.shape[:2]}",
            pair.mask_paths[0],
        )
    if scale != 1.0:
        raw, labels = resize_image(raw, scale), resize_labels(labels, scale)
    image = normalize_image(
        raw,
        channels,
        normalization.get("low_percentile", 1.0),
        normalization.get("high_percentile", 99.8),
    )
    ignore = np.isin(labels, pair.ignore_ids) if pair.ignore_ids else None
    if pair.verified_ids is not None:
        unknown = unknown_pixels(labels, pair.verified_ids)
        ignore = unknown if ignore is None else ignore | unknown
    if ignore is not None:
        labels = np.where(ignore, 0, labels).astype(labels.dtype)
    classes = three_class_target(labels)
    if ignore is not None:
        classes[ignore] = IGNORE  # no loss here; validation leaves these pixels out too
    meta = {"raw": raw}
    if ignore is not None:
        meta["ignore"] = ignore
    if pair.verified_ids is not None:
        # Where crops are centred (CropDataset): every KNOWN_STRIDE-th pixel that teaches.
        meta["known_points"] = np.flatnonzero(~ignore.ravel())[::KNOWN_STRIDE].astype(np.int64)
    return Sample(
        pair.stem,
        image,
        labels,
        classes,
        distance_target(labels),
        sha256=file_sha256(pair.image_path),
        meta=meta,
    )


def split_validation(samples: list[Sample], fraction: float, seed: int):
    """(train, validation) deterministic by seed; at least one validation image.

    A single image is cut in two: its last fifth (along the longer side) is validation.
    """
    if len(samples) == 1:
        only = samples[0]
        axis = 0 if only.labels.shape[0] >= only.labels.shape[1] else 1
        cut = int(only.labels.shape[axis] * 0.8)

        def part(sample: Sample, lo: int, hi: int | None, suffix: str) -> Sample:
            index = [slice(None)] * 2
            index[axis] = slice(lo, hi)
            sl = tuple(index)
            return Sample(
                sample.stem + suffix,
                sample.image[(slice(None),) + sl],
                sample.labels[sl],
                sample.classes[sl],
                sample.distance[sl],
                sample.sha256,
            )

        return [part(only, 0, cut, "")], [part(only, cut, None, "#validation-region")]
    order = np.random.default_rng(seed).permutation(len(samples))
    count = min(len(samples) - 1, max(1, int(round(fraction * len(samples)))))
    validation = sorted(order[:count].tolist())
    training = sorted(order[count:].tolist())
    return [samples[i] for i in training], [samples[i] for i in validation]


def _pad_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    pad_h, pad_w = max(0, height - array.shape[-2]), max(0, width - array.shape[-1])
    if not pad_h and not pad_w:
        return array
    pads = [(0, 0)] * (array.ndim - 2) + [(0, pad_h), (0, pad_w)]
    # Reflection keeps image and targets consistent (mirrored cells are labelled too).
    mode = "reflect" if array.shape[-2] > pad_h and array.shape[-1] > pad_w else "symmetric"
    return np.pad(array, pads, mode=mode)


# A partly verified image teaches only around its verified cells; a crop placed anywhere would
# mostly hold pixels without loss. So most of its crops hold a known pixel, at a random place in
# the crop (the rest are placed anywhere, as on a whole image).
KNOWN_FOCUS = 0.9
KNOWN_STRIDE = 7  # of the known pixels, every 7th is kept as a possible crop position


def crop_weights(areas: list[int], groups: list[str] | None = None) -> np.ndarray:
    """How often each image is cropped from. Larger images give more crops (in proportion to
    the square root of their area). With `groups` (one name per image, such as its modality),
    each group's share is in proportion to the square root of its image count instead of the
    count itself: DSB2018's 80 stained training images among 437 fluorescent and 9 brightfield
    ones get 27 % of the crops rather than 15 %, while the fluorescent images still get most."""
    weights = np.sqrt(np.asarray(areas, dtype=np.float64))
    if groups is not None:
        names = np.asarray(groups)
        for name in np.unique(names):
            members = names == name
            weights[members] *= np.sqrt(members.sum()) / weights[members].sum()
    return weights / weights.sum()


class CropDataset(torch.utils.data.Dataset):
    """`length` random augmented crops per epoch; crop i of epoch e is fixed by the seed,
    so runs are reproducible and a DistributedSampler can split the indices."""

    def __init__(self, samples: list[Sample], crop_size: int, length: int, seed: int,
                 zoom: tuple[float, float] | None = None, groups: list[str] | None = None):
        self.samples = samples
        # (low, high): each crop is rescaled by a log-uniform factor in this range, so the
        # network copes with cells somewhat larger or smaller than those it was shown.
        self.zoom = zoom
        self.crop_size = crop_size
        self.length = length
        self.seed = seed
        self.epoch = 0
        self.weights = crop_weights([s.labels.size for s in samples], groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    @staticmethod
    def _corner(sample: Sample, rng: np.random.Generator, shape: tuple[int, int], window_size: int) -> tuple[int, int]:
        """The crop's top-left corner in the (padded) image: uniform, or on a partly verified
        image mostly around a known pixel (KNOWN_FOCUS)."""
        height, width = shape
        points = sample.meta.get("known_points")
        if points is not None and len(points) and rng.random() < KNOWN_FOCUS:
            row, col = divmod(int(points[int(rng.integers(0, len(points)))]), sample.labels.shape[1])
            top = min(max(0, row - int(rng.integers(0, window_size))), height - window_size)
            left = min(max(0, col - int(rng.integers(0, window_size))), width - window_size)
            return top, left
        return int(rng.integers(0, height - window_size + 1)), int(rng.integers(0, width - window_size + 1))

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        sample = self.samples[int(rng.choice(len(self.samples), p=self.weights))]
        size = self.crop_size
        factor = 1.0
        if self.zoom is not None:
            factor = float(np.exp(rng.uniform(np.log(self.zoom[0]), np.log(self.zoom[1]))))
        window_size = max(8, int(round(size / factor)))
        image = _pad_to(sample.image, window_size, window_size)
        classes = _pad_to(sample.classes, window_size, window_size)
        distance = _pad_to(sample.distance, window_size, window_size)
        labels = _pad_to(sample.labels, window_size, window_size) if window_size != size else None
        top, left = self._corner(sample, rng, image.shape[1:], window_size)
        window = (slice(top, top + window_size), slice(left, left + window_size))
        image = image[(slice(None),) + window]
        classes = classes[window]
        distance = distance[window]
        if labels is not None:
            image, classes, distance = _zoomed(image, classes, distance, labels[window], size)
        turns = int(rng.integers(0, 4))
        image = np.rot90(image, turns, axes=(1, 2))
        classes = np.rot90(classes, turns)
        distance = np.rot90(distance, turns)
        if rng.random() < 0.5:
            image, classes, distance = image[:, :, ::-1], classes[:, ::-1], distance[:, ::-1]
        # Intensity and contrast jitter around the normalised range.
        gain = float(rng.uniform(0.75, 1.3))
        offset = float(rng.uniform(-0.15, 0.15))
        image = image * gain + offset
        if rng.random() < 0.3:
            image = image + rng.normal(0, rng.uniform(0.0, 0.05), image.shape).astype(np.float32)
        return (
            torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(classes).astype(np.int64)),
            torch.from_numpy(np.ascontiguousarray(distance, dtype=np.float32)),
        )


def _zoomed(image, classes, distance, labels, size: int):
    """A crop resized to `size`: image and distance smoothly, the classes rebuilt from the
    resized instance labels so boundaries stay one pixel wide at the new scale."""
    image = resize_image(np.moveaxis(image, 0, -1), size / image.shape[1], (size, size))
    image = np.moveaxis(image, -1, 0) if image.ndim == 3 else image[None]
    distance = resize_image(distance, size / distance.shape[0], (size, size))
    labels = resize_labels(labels, size / labels.shape[0], (size, size))
    ignored = resize_labels((classes == IGNORE).astype(np.uint8), size / classes.shape[0], (size, size)) > 0
    classes = three_class_target(labels)
    classes[ignored] = IGNORE
    return image, classes, distance
