"""The model's foreground probability of recently pre-segmented images, for the assisted tools.

Click-to-add uses the map of the image it is on (seggui.core.assisted.add_cell_mask): the
cell the model saw faintly, below its own threshold, comes back with one click. Maps are
kept as float16 (a 2048x2048 map is 8 MB) for the last few images only; an image whose map
was dropped, or never made, falls back to the image-based method.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

KEEP_IMAGES = 8


class ModelMaps:
    def __init__(self, keep: int = KEEP_IMAGES):
        self.keep = keep
        self._maps: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, image_id: str, probability: np.ndarray | None) -> None:
        if probability is None:
            return
        # A map that is not a number anywhere (a network fed NaN pixels) reads as "no cell there".
        array = np.clip(np.nan_to_num(np.asarray(probability, dtype=np.float32), nan=0.0), 0.0, 1.0).astype(np.float16)
        with self._lock:
            self._maps[image_id] = array
            self._maps.move_to_end(image_id)
            while len(self._maps) > self.keep:
                self._maps.popitem(last=False)

    def get(self, image_id: str | None) -> np.ndarray | None:
        with self._lock:
            array = self._maps.get(image_id) if image_id is not None else None
            if array is not None:
                self._maps.move_to_end(image_id)
        return None if array is None else array.astype(np.float32)

    def forget(self, image_id: str) -> None:
        with self._lock:
            self._maps.pop(image_id, None)
