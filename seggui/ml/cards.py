"""Model cards: a JSON file next to each model's weights saying what it is and how it was made.

Validation is strict about what inference needs (kind, architecture, normalisation) and
lenient about the rest, so that cards from newer versions still load.
"""

from __future__ import annotations

import json
from pathlib import Path

from seggui.core.errors import ModelError

CARD_FORMAT = 1
KINDS = {
    "unet": "instances",
    "classic": "instances",
    "deeplabv3_resnet50": "semantic",
    "deeplabv3_mobilenet_v3_large": "semantic",
    "maskrcnn_resnet50_fpn": "instances",
}
TASKS = ("instances", "semantic")


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
        if not isinstance(classes, int) or classes < 2:
            raise ModelError(f"{kind} needs an integer 'num_classes' >= 2 in 'architecture'", path)
    normalization = data.get("normalization", {})
    if not isinstance(normalization, dict):
        raise ModelError("'normalization' must be an object", path)
    low = normalization.get("low_percentile", 1.0)
    high = normalization.get("high_percentile", 99.8)
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 <= low < high <= 100):
        raise ModelError("normalisation percentiles must satisfy 0 <= low < high <= 100", path)
    if "postprocess" in data and not isinstance(data["postprocess"], dict):
        raise ModelError("'postprocess' must be an object", path)
    data = dict(data)
    data["task"] = task
    return data


def read_card(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError("model card not found", path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"model card cannot be read ({error})", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"model card is not valid JSON (line {error.lineno}: {error.msg})", path) from None
    return validate_card(data, path)


def write_card(card: dict, path: str | Path) -> None:
    from seggui.ml.safe_load import atomic_write_text

    validate_card(card, path)
    atomic_write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", path)
