"""Layers of one image: raw pixels (ImageLayer) and instance labels (LabelLayer).

Layers are evented models: views connect to their signals and never poll. Data edits go
through `LabelLayer.write` so that every change announces the rectangle it touched.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
from psygnal import Signal

from seggui.core.annotation import LabelClass, VectorShape, default_class_color, label_dtype_for

# (y0, x0, y1, x1), half-open, in image pixels
Rect = tuple[int, int, int, int]

COLORMAPS = ("gray", "red", "green", "blue", "cyan", "magenta", "yellow", "viridis", "inferno")


def new_layer_id() -> str:
    return uuid.uuid4().hex[:12]


def auto_contrast(data: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
    """Percentile contrast limits from a strided sample: fast on huge images."""
    step = max(1, int(np.sqrt(data.shape[0] * data.shape[1] / 262144)))
    sample = np.asarray(data[::step, ::step], dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [low, high])
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


class ImageLayer:
    """Raw pixels in their own dtype, plus view settings that are never baked into data."""

    changed = Signal(str)  # name of the view property that changed

    kind = "image"

    def __init__(
        self,
        data: np.ndarray,
        name: str = "image",
        channel_names: list[str] | None = None,
        layer_id: str | None = None,
        settings: dict[str, Any] | None = None,
        pixel_size_um: tuple[float, float] | None = None,
    ):
        if data.ndim not in (2, 3):
            raise ValueError(f"image data must be (H, W) or (H, W, C), got shape {data.shape}")
        self.id = layer_id or new_layer_id()
        self.data = data
        self.name = name
        self.channel_names = list(channel_names or [])
        # (x, y) µm per pixel as the file says (OME-TIFF, microscope files), None when it does not;
        # read from the file on every load, never saved with the view settings.
        self.pixel_size_um = pixel_size_um
        self.visible = True
        self.opacity = 1.0
        self.gamma = 1.0
        channels = 1 if data.ndim == 2 else data.shape[2]
        if channels in (3, 4) and data.dtype == np.uint8:
            # Colour images share one pair of limits so that hues stay balanced; percentiles
            # still brighten dark fluorescence saved as RGB.
            shared = auto_contrast(data[:, :, :3].reshape(data.shape[0], -1))
            self.contrast_limits = [shared] * 3 + [(0.0, 255.0)] * (channels - 3)
            self.colormaps = ["red", "green", "blue", "gray"][:channels]
        else:
            per_channel = [data] if data.ndim == 2 else [data[:, :, c] for c in range(channels)]
            self.contrast_limits = [auto_contrast(channel) for channel in per_channel]
            self.colormaps = ["gray"] if channels == 1 else (
                ["red", "green", "blue", "cyan", "magenta", "yellow"] * 4)[:channels]
        self.channel_visible = [True] * channels
        if channels == 4 and (self.channel_names[3:4] == ["alpha"] or data.dtype == np.uint8):
            # RGBA: the alpha plane is usually constant 255 and would wash the image out white.
            self.channel_visible[3] = False
        if settings:
            self.apply_settings(settings)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.data.shape[0]), int(self.data.shape[1])

    @property
    def channels(self) -> int:
        return 1 if self.data.ndim == 2 else int(self.data.shape[2])

    def set_property(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.changed.emit(name)

    def set_contrast_limits(self, channel: int, low: float, high: float) -> None:
        limits = list(self.contrast_limits)
        limits[channel] = (float(low), float(max(high, low + 1e-6)))
        self.set_property("contrast_limits", limits)

    def reset_contrast(self, channel: int | None = None) -> None:
        channels = range(self.channels) if channel is None else [channel]
        limits = list(self.contrast_limits)
        for c in channels:
            limits[c] = auto_contrast(self.data if self.data.ndim == 2 else self.data[:, :, c])
        self.set_property("contrast_limits", limits)

    def settings(self) -> dict[str, Any]:
        return {
            "visible": self.visible,
            "opacity": self.opacity,
            "gamma": self.gamma,
            "contrast_limits": [list(limits) for limits in self.contrast_limits],
            "colormaps": list(self.colormaps),
            "channel_visible": list(self.channel_visible),
        }

    def apply_settings(self, settings: dict[str, Any]) -> None:
        self.visible = bool(settings.get("visible", self.visible))
        self.opacity = float(settings.get("opacity", self.opacity))
        self.gamma = float(settings.get("gamma", self.gamma))
        limits = settings.get("contrast_limits")
        if limits and len(limits) == self.channels:
            self.contrast_limits = [(float(lo), float(hi)) for lo, hi in limits]
        colormaps = settings.get("colormaps")
        if colormaps and len(colormaps) == self.channels:
            self.colormaps = [str(c) for c in colormaps]
        visible = settings.get("channel_visible")
        if visible and len(visible) == self.channels:
            self.channel_visible = [bool(v) for v in visible]


class LabelLayer:
    """An instance label image (0 = background) with its instance -> class table.

    Semantic masks are the table applied to the labels; panoptic is both.
    """

    changed = Signal(str)  # name of the property that changed (name, visible, opacity, locked, classes, ...)
    data_changed = Signal(object)  # Rect touched by an edit
    instances_changed = Signal()  # instance -> class table or instance info changed

    kind = "labels"

    def __init__(
        self,
        data: np.ndarray,
        name: str = "labels",
        classes: list[LabelClass] | None = None,
        instance_classes: dict[int, int] | None = None,
        instance_info: dict[int, dict[str, Any]] | None = None,
        vectors: list[VectorShape] | None = None,
        layer_id: str | None = None,
    ):
        if data.ndim != 2:
            raise ValueError(f"label data must be 2-D, got shape {data.shape}")
        if data.dtype not in (np.uint16, np.uint32):
            max_id = int(data.max()) if data.size else 0
            if data.dtype.kind not in "ui" or (data.size and int(data.min()) < 0):
                raise ValueError(f"label data must hold non-negative integers, got {data.dtype}")
            data = data.astype(label_dtype_for(max_id))
        self.id = layer_id or new_layer_id()
        self.data = data
        self.name = name
        self.classes: list[LabelClass] = list(classes or [LabelClass(1, "cell", default_class_color(1))])
        self.instance_classes: dict[int, int] = dict(instance_classes or {})
        self.instance_info: dict[int, dict[str, Any]] = dict(instance_info or {})
        self.vectors: list[VectorShape] = list(vectors or [])
        self.visible = True
        self.opacity = 0.5
        self.locked = False
        self.contour_only = False
        self.color_by_class = False
        self.version = 0  # bumped on every data write; the project saves layers whose version moved
        self._max_id = int(data.max()) if data.size else 0

    @classmethod
    def empty(cls, shape: tuple[int, int], **kwargs: Any) -> "LabelLayer":
        return cls(np.zeros(shape, dtype=np.uint16), **kwargs)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.data.shape[0]), int(self.data.shape[1])

    # -- view properties -------------------------------------------------------------
    def set_property(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.changed.emit(name)

    # -- classes ---------------------------------------------------------------------
    def class_of(self, instance_id: int) -> int | None:
        if instance_id == 0:
            return None
        return self.instance_classes.get(instance_id, self.default_class_id)

    @property
    def default_class_id(self) -> int:
        return self.classes[0].id if self.classes else 1

    def class_by_id(self, class_id: int) -> LabelClass | None:
        return next((c for c in self.classes if c.id == class_id), None)

    def set_classes(self, classes: list[LabelClass]) -> None:
        ids = [c.id for c in classes]
        if len(set(ids)) != len(ids) or any(i < 1 for i in ids):
            raise ValueError("class ids must be unique and start at 1")
        self.classes = list(classes)
        self.changed.emit("classes")

    def set_instance_class(self, instance_id: int, class_id: int | None) -> None:
        if class_id is None:
            self.instance_classes.pop(instance_id, None)
        else:
            self.instance_classes[instance_id] = class_id
        self.version += 1
        self.instances_changed.emit()

    # -- label data ------------------------------------------------------------------
    @property
    def max_id(self) -> int:
        return self._max_id

    def next_free_id(self) -> int:
        return self._max_id + 1

    def ensure_capacity(self, label_id: int) -> None:
        """Widen uint16 to uint32 when an id no longer fits (rare: > 65,535 instances)."""
        if label_id > np.iinfo(self.data.dtype).max:
            self.data = self.data.astype(label_dtype_for(label_id))

    def write(self, rect: Rect, values: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Write `values` into rect (where mask is True), then announce the rectangle."""
        y0, x0, y1, x1 = rect
        if values.size:
            top = int(values.max())
            self.ensure_capacity(top)
            self._max_id = max(self._max_id, top)
        region = self.data[y0:y1, x0:x1]
        if mask is None:
            region[...] = values
        else:
            region[mask] = values if values.ndim <= 1 else values[mask]
        self.version += 1
        self.data_changed.emit(rect)

    def write_indices(self, indices: np.ndarray, values: np.ndarray | int, rect: Rect) -> None:
        """Write values at flat pixel indices (sparse edits, undo/redo), announcing rect."""
        values = np.asarray(values)
        if values.size:
            top = int(values.max())
            self.ensure_capacity(top)
            self._max_id = max(self._max_id, top)
        self.data.reshape(-1)[indices] = values
        self.version += 1
        self.data_changed.emit(rect)

    def replace_data(self, data: np.ndarray) -> None:
        """Swap the whole array (import, accept a whole-image proposal)."""
        if data.shape != self.data.shape:
            raise ValueError(f"label shape {data.shape} differs from layer shape {self.data.shape}")
        self.data = data
        self._max_id = int(data.max()) if data.size else 0
        self.version += 1
        self.data_changed.emit((0, 0, data.shape[0], data.shape[1]))

    def recompute_max_id(self) -> None:
        self._max_id = int(self.data.max()) if self.data.size else 0

    def instance_ids(self) -> np.ndarray:
        ids = np.unique(self.data)
        return ids[ids != 0]


MAX_CELL_ID = 2**32 - 1  # label images are at most 32-bit


def instance_info_from_json(raw: Any) -> dict[int, dict[str, Any]]:
    """A label layer's per-cell table as a project stores it (`{"<id>": {...}}`), checked:
    ids are whole numbers from 1 to MAX_CELL_ID, each entry is an object, its "score" (a
    model's confidence) a finite number and its "verified" mark true or false. Raises
    ValueError naming the first bad entry. A table from someone else's folder must not crash
    the review queue, nor show a cell as verified that training then leaves out."""
    if not isinstance(raw, dict):
        raise ValueError(f"the cells' info is {type(raw).__name__}, not an object")
    info: dict[int, dict[str, Any]] = {}
    for key, value in raw.items():
        try:
            cell = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"cell id {key!r} is not a whole number") from None
        if not 1 <= cell <= MAX_CELL_ID:
            raise ValueError(f"cell id {key!r} is out of range (1 to {MAX_CELL_ID})")
        if not isinstance(value, dict):
            raise ValueError(f"cell {cell}: its info is {type(value).__name__}, not an object")
        score = value.get("score")
        if "score" in value and (isinstance(score, bool) or not isinstance(score, (int, float))
                                 or not math.isfinite(score)):
            raise ValueError(f"cell {cell}: score {score!r} is not a finite number")
        if "verified" in value and not isinstance(value["verified"], bool):
            raise ValueError(f"cell {cell}: verified {value['verified']!r} is not true or false")
        info[cell] = dict(value)
    return info
