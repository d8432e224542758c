"""Model cards: a JSON file next to each model's weights saying what it is and how it was made.

Validation is strict about what inference needs (kind, architecture, normalisation) and
lenient about the rest, so that cards from newer versions still load.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from seggui.core.errors import ModelError
from seggui.core.safe_files import UnsafePathError, read_bytes_limited

CARD_FORMAT = 1
KINDS = {
    "unet": "instances",
    "classic": "instances",
    "deeplabv3_resnet50": "semantic",
    "deeplabv3_mobilenet_v3_large": "semantic",
    "maskrcnn_resnet50_fpn": "instances",
}
TASKS = ("instances", "semantic")
# A card is a few kilobytes of JSON; anything far larger is not a card (and would be read
# into memory whole).
CARD_LIMIT = 1 * 2**20
# Far above any real label set; the class count sizes the network's last layers.
MAX_CLASSES = 1000
# Post-processing values (postprocess.InstanceParams, classic.segment_classic): (integer?,
# lowest, highest, highest allowed?). A threshold of 1 or NaN keeps no pixel at all, which
# would look like "no cells" rather than a broken card.
POSTPROCESS_RANGES = {
    "foreground_threshold": (False, 0.0, 1.0, False),
    "seed_threshold": (False, 0.0, 1.0, False),
    "min_size": (True, 0, 10**8, True),
    "min_seed_size": (True, 0, 10**8, True),
    "smoothing_sigma": (False, 0.0, 50.0, True),
    "min_distance": (True, 0, 10_000, True),
    "block_size": (True, 1, 10_001, True),
}
THRESHOLD_METHODS = ("otsu", "local")


def validate_card(data: object, path: str | Path | None = None) -> dict:
    """Return the card if it is usable, else raise ModelError naming the problem."""
    if not isinstance(data, dict):
        raise ModelError("model card must be a JSON object", path)
    fmt = data.get("format", CARD_FORMAT)
    if not isinstance(fmt, int) or fmt > CARD_FORMAT:
        raise ModelError(f"model card format {fmt!r} is newer than this seggui understands", path)
    for key in ("name", "kind"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ModelError(f"model card lacks a {key!r} string", path)
    kind = data["kind"]
    if kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r} (known: {', '.join(sorted(KINDS))})", path)
    task = data.get("task", KINDS[kind])
    if task not in TASKS:
        raise ModelError(f"unknown task {task!r} (instances or semantic)", path)
    architecture = data.get("architecture", {})
    if not isinstance(architecture, dict):
        raise ModelError("'architecture' must be an object", path)
    if kind == "unet":
        for key in ("in_channels", "classes", "depth", "width"):
            value = architecture.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4096:
                raise ModelError(f"U-Net architecture needs a positive integer {key!r}", path)
        if architecture["depth"] > 8:
            raise ModelError("U-Net depth above 8 is not supported", path)
    if kind.startswith("deeplabv3") or kind.startswith("maskrcnn"):
        classes = architecture.get("num_classes")
        if not isinstance(classes, int) or isinstance(classes, bool) or not 2 <= classes <= MAX_CLASSES:
            raise ModelError(f"{kind} needs an integer 'num_classes' from 2 to {MAX_CLASSES} in 'architecture'", path)
    normalization = data.get("normalization", {})
    if not isinstance(normalization, dict):
        raise ModelError("'normalization' must be an object", path)
    low = normalization.get("low_percentile", 1.0)
    high = normalization.get("high_percentile", 99.8)
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 <= low < high <= 100):
        raise ModelError("normalisation percentiles must satisfy 0 <= low < high <= 100", path)
    if "postprocess" in data:
        validate_postprocess(data["postprocess"], path)
    if "scale" in data:
        validate_scale(data["scale"], path)
    data = dict(data)
    data["task"] = task
    return data


def validate_postprocess(settings: object, path: str | Path | None = None) -> None:
    """Every number finite and, for the keys seggui uses, within its meaningful range."""
    if not isinstance(settings, dict):
        raise ModelError("'postprocess' must be an object", path)
    for key, value in settings.items():
        if key == "method":
            if value not in THRESHOLD_METHODS:
                raise ModelError(f"postprocess 'method' must be one of {', '.join(THRESHOLD_METHODS)}", path)
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and not math.isfinite(value):
            raise ModelError(f"postprocess {key!r} is {value!r}, not a finite number", path)
        if key not in POSTPROCESS_RANGES:
            continue  # lenient about keys of newer versions
        integer, low, high, high_allowed = POSTPROCESS_RANGES[key]
        in_range = number and low <= value and (value <= high if high_allowed else value < high)
        if not in_range or (integer and not float(value).is_integer()):
            kind = "an integer" if integer else "a number"
            upper = f"<= {high}" if high_allowed else f"< {high}"
            raise ModelError(f"postprocess {key!r} must be {kind} with {low} <= value {upper} (got {value!r})",
                             path)


# seggui.ml.scale: the cell size a model was trained at and the factor images are resized by.
# A factor of 0.01 would shrink every image to nothing, 100 would need 10,000 times the memory.
SCALE_RANGES = {"cell_diameter": (1.0, 1000.0), "input_scale": (0.2, 4.0), "measured_cell_diameter": (0.0, 100000.0)}


def validate_scale(settings: object, path: str | Path | None = None) -> None:
    if not isinstance(settings, dict):
        raise ModelError("'scale' must be an object", path)
    for key, (low, high) in SCALE_RANGES.items():
        if key not in settings or (key == "measured_cell_diameter" and settings[key] is None):
            continue
        value = settings[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and low <= value <= high):
            raise ModelError(f"scale {key!r} must be a number from {low} to {high} (got {value!r})", path)


def read_card(path: str | Path) -> dict:
    path = Path(path)
    try:
        raw = read_bytes_limited(path, CARD_LIMIT, "model card")
        text = raw.decode("utf-8")
    except UnsafePathError as error:  # not a regular file, or larger than CARD_LIMIT
        raise ModelError(error.message, path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"model card cannot be read ({error})", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"model card is not valid JSON (line {error.lineno}: {error.msg})", path) from None
    except (ValueError, RecursionError) as error:  # a 5000-digit number, nesting thousands deep
        raise ModelError(f"model card is not usable JSON ({str(error)[:200]})", path) from None
    return validate_card(data, path)


def write_card(card: dict, path: str | Path) -> None:
    from seggui.core.atomic import atomic_write_text

    path = Path(path)
    validate_card(card, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(card, indent=2, sort_keys=False) + "\n")
