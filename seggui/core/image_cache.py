"""A memory budget for the images a session has looked at: the least recently viewed go first.

Browsing loads each image's pixels and label layers; without a limit a day over 2,000
images of 2048x2048 holds about 20 GB. `ImageCache.touch` is called for the image on
screen; when the loaded images together exceed the budget, the least recently viewed ones
are released (their pixels are read again from disk when next shown). An image is released
only when `can_release` says its state is on disk: edited images stay until they are saved.
Releasing drops that image's undo history, whose steps refer to the released layer objects.

Budget: `SEGGUI_IMAGE_CACHE_MB` (default 2048 MB), or the `budget_bytes` argument.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Callable

from seggui.core.document import Document, ImageEntry

DEFAULT_BUDGET_MB = 2048


def budget_from_environment(default_mb: int = DEFAULT_BUDGET_MB) -> int:
    text = os.environ.get("SEGGUI_IMAGE_CACHE_MB", "")
    try:
        megabytes = int(text) if text else default_mb
    except ValueError:
        megabytes = default_mb
    return max(megabytes, 0) * 1024 * 1024


def entry_bytes(entry: ImageEntry) -> int:
    """Memory held by a loaded image's layers (0 when not loaded)."""
    if not entry.loaded:
        return 0
    return sum(int(getattr(layer, "data").nbytes) for layer in entry.layers if getattr(layer, "data", None) is not None)


class ImageCache:
    def __init__(self, document: Document, can_release: Callable[[ImageEntry], bool],
                 budget_bytes: int | None = None):
        self.document = document
        self.can_release = can_release
        self.budget_bytes = budget_from_environment() if budget_bytes is None else int(budget_bytes)
        self._recent: OrderedDict[str, None] = OrderedDict()  # image ids, least recently viewed first

    @property
    def loaded_bytes(self) -> int:
        return sum(entry_bytes(entry) for entry in self.document.images if entry.loaded)

    def touch(self, entry: ImageEntry | None) -> list[ImageEntry]:
        """`entry` is on screen now; release others over the budget. Returns the released ones."""
        if entry is not None:
            self._recent.pop(entry.id, None)
            self._recent[entry.id] = None
        total = self.loaded_bytes
        released: list[ImageEntry] = []
        if total <= self.budget_bytes:
            return released
        for image_id in list(self._recent):
            if total <= self.budget_bytes:
                break
            candidate = self.document.image_by_id(image_id)
            if candidate is None:
                self._recent.pop(image_id, None)
                continue
            if candidate is entry or not candidate.loaded or not self.can_release(candidate):
                continue
            size = entry_bytes(candidate)
            self.document.undo_stack.for_image(candidate).clear()
            candidate.unload()
            self._recent.pop(image_id, None)
            total -= size
            released.append(candidate)
        # Images loaded without being shown (exports, batch work) are released too, oldest first.
        for candidate in self.document.images:
            if total <= self.budget_bytes:
                break
            if candidate is entry or not candidate.loaded or candidate.id in self._recent:
                continue
            if self.can_release(candidate):
                size = entry_bytes(candidate)
                self.document.undo_stack.for_image(candidate).clear()
                candidate.unload()
                total -= size
                released.append(candidate)
        return released
