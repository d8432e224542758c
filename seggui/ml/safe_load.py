"""Loading weight files without running code from them, and without being made to hang or
fill memory by them.

`torch.load(weights_only=True)` refuses pickles that reference anything but tensors and
plain containers, so a weights file with a `__reduce__` payload cannot execute. The file is
opened with core.safe_files.open_regular (a FIFO or device is refused instead of blocking)
and is bounded in size, on disk and, for torch's zip format, once inflated. Every failure
becomes a ModelError naming the file.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from seggui.core.atomic import atomic_open
from seggui.core.errors import ModelError
from seggui.core.safe_files import UnsafePathError, open_regular

WEIGHTS_LIMIT_ENV = "SEGGUI_MAX_WEIGHTS_MB"
DEFAULT_WEIGHTS_LIMIT_MB = 2048  # far above any segmentation network seggui runs


def max_weights_bytes() -> int:
    """The size limit for a weights file: SEGGUI_MAX_WEIGHTS_MB, else 2 GiB."""
    configured = os.environ.get(WEIGHTS_LIMIT_ENV)
    if not configured:
        return DEFAULT_WEIGHTS_LIMIT_MB * 2**20
    try:
        megabytes = float(configured)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise ModelError(f"{WEIGHTS_LIMIT_ENV}={configured!r} is not a positive number of megabytes")
    return int(megabytes * 2**20)


def _check_size(handle, path: Path, limit: int) -> None:
    size = os.fstat(handle.fileno()).st_size
    if size > limit:
        raise ModelError(f"weights file is {size / 2**20:,.0f} MB, above the limit of {limit / 2**20:,.0f} MB "
                         f"(set {WEIGHTS_LIMIT_ENV} to allow larger files)", path)
    # torch's zip format may store deflated records, which torch inflates in memory: a small
    # file could stand for terabytes, so the sizes it declares are bounded too.
    if zipfile.is_zipfile(handle):
        try:
            inflated = sum(entry.file_size for entry in zipfile.ZipFile(handle).infolist())
        except (zipfile.BadZipFile, OSError, ValueError) as error:
            raise ModelError(f"corrupt weights file ({error})", path) from None
        if inflated > limit:
            raise ModelError(f"weights file unpacks to {inflated / 2**20:,.0f} MB, above the limit of "
                             f"{limit / 2**20:,.0f} MB (set {WEIGHTS_LIMIT_ENV} to allow larger files)", path)
    handle.seek(0)


def load_weights(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    path = Path(path)
    limit = max_weights_bytes()
    try:
        handle = open_regular(path, "weights file")
    except UnsafePathError as error:
        raise ModelError(error.message, path) from None
    with handle:
        _check_size(handle, path, limit)
        try:
            return torch.load(handle, map_location=map_location, weights_only=True)
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
        if loaded and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()):
            return {k.removeprefix("module."): v for k, v in loaded.items()}
    raise ModelError("does not contain a state dict of tensors", path)


def atomic_save(obj: Any, path: str | Path) -> None:
    """Temporary file in the same folder, fsync, rename: a crash or SIGTERM mid-save leaves
    the previous file intact rather than a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as handle:
        torch.save(obj, handle)
