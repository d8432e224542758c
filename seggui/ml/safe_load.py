"""Loading weight files without running code from them.

`torch.load(weights_only=True)` refuses pickles that reference anything but tensors and
plain containers, so a weights file with a `__reduce__` payload cannot execute. Every
failure becomes a ModelError naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seggui.core.atomic import atomic_open
from seggui.core.errors import ModelError


def load_weights(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    path = Path(path)
    if not path.is_file():
        raise ModelError("weights file not found", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - every failure is reported the same way
        text = str(error)
        if "weights_only" in text or "Unsupported global" in text or "GLOBAL" in text:
            raise ModelError(
                "refused: the file contains Python objects other than weights, which could "
                "run code when loaded (only plain tensor state dicts are accepted)",
                path,
            ) from None
        first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        raise ModelError(f"corrupt or unreadable weights file ({first_line})", path) from None


def state_dict_from(loaded: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """Accept a bare state dict, or {'state_dict': ...} / {'model': ...} wrappers."""
    if isinstance(loaded, dict):
        for key in ("state_dict", "model", "model_state"):
            inner = loaded.get(key)
            if isinstance(inner, dict) and inner and all(
                isinstance(v, torch.Tensor) for v in inner.values()
            ):
                loaded = inner
                break
        if loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
            return {k.removeprefix("module."): v for k, v in loaded.items()}
    raise ModelError("does not contain a state dict of tensors", path)


def atomic_save(obj: Any, path: str | Path) -> None:
    """Temporary file in the same folder, fsync, rename: a crash or SIGTERM mid-save leaves
    the previous file intact rather than a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as handle:
        torch.save(obj, handle)


def atomic_write_text(text: str, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as handle:
        handle.write(text.encode("utf-8"))
