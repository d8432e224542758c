"""The classic pipeline, no weights: percentile normalisation, Otsu or local threshold,
distance-transform seeded watershed. Always available as a fallback and a baseline."""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.filters import threshold_local, threshold_otsu
from skimage.segmentation import watershed

from seggui.ml.confidence import CLASSIC_WEIGHTS, classic_cues, image_score, scores_and_cues
from seggui.ml.inference import Prediction, PredictOptions, Predictor
from seggui.ml.normalize import normalize_image
from seggui.ml.postprocess import drop_small_instances, relabel_sequential

CLASSIC_CARD = {
    "format": 1,
    "name": "classic",
    "kind": "classic",
    "task": "instances",
    "description": "Otsu (or local) threshold + distance-transform seeded watershed; no weights",
    "normalization": {"method": "percentile", "low_percentile": 1.0, "high_percentile": 99.8},
    "postprocess": {"method": "otsu", "smoothing_sigma": 1.0, "min_distance": 4, "min_size": 12,
                    "block_size": 51},
}


def segment_classic(image: np.ndarray, method: str = "otsu", smoothing_sigma: float = 1.0,
                    min_distance: int = 4, min_size: int = 12, block_size: int = 51,
                    low: float = 1.0, high: float = 99.8) -> tuple[np.ndarray, np.ndarray]:
    """(labels, foreground score in 0..1) from a raw image array."""
    grey = normalize_image(np.asarray(image), 1, low, high)[0]
    if smoothing_sigma > 0:
        grey = ndimage.gaussian_filter(grey, smoothing_sigma)
    if float(grey.max()) - float(grey.min()) < 1e-6:
        return np.zeros(grey.shape, np.uint16), np.zeros(grey.shape, np.float32)
    # Polarity: cells are the minority class. On brightfield and stained images the
    # background is bright, so invert to make cells bright as on fluorescence.
    otsu = threshold_otsu(grey)
    if (grey > otsu).mean() > 0.5:
        grey = grey.max() - grey
        otsu = threshold_otsu(grey)
    if method == "local":
        block = max(3, block_size | 1)
        foreground = grey > threshold_local(grey, block, offset=-0.01)
        foreground &= grey > 0.5 * otsu  # keep flat background out
    elif method == "otsu":
        foreground = grey > otsu
    else:
        raise ValueError(f"unknown threshold method {method!r} (otsu or local)")
    foreground = ndimage.binary_fill_holes(ndimage.binary_opening(foreground, iterations=1))
    distance = ndimage.distance_transform_edt(foreground)
    components, _ = ndimage.label(foreground)
    peaks = peak_local_max(distance, min_distance=max(1, min_distance), labels=components,
                           exclude_border=False)
    markers = np.zeros(foreground.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = watershed(-distance, markers, mask=foreground)
    drop_small_instances(labels, min_size)
    span = max(1e-6, float(grey.max() - grey.min()))
    score = ((grey - grey.min()) / span).astype(np.float32)
    return relabel_sequential(labels), score


class ClassicPredictor(Predictor):
    def predict(self, image, options: PredictOptions | None = None, progress=None, cancelled=None) -> Prediction:
        options = options or PredictOptions()
        settings = {**self.card.get("postprocess", {}), **(options.postprocess or {})}
        normalization = self.card.get("normalization", {})
        start = time.perf_counter()
        labels, score = segment_classic(
            image, settings.get("method", "otsu"), float(settings.get("smoothing_sigma", 1.0)),
            int(settings.get("min_distance", 4)), int(settings.get("min_size", 12)),
            int(settings.get("block_size", 51)), float(normalization.get("low_percentile", 1.0)),
            float(normalization.get("high_percentile", 99.8)))
        if progress is not None:
            progress(1, 1)
        scores, cues = scores_and_cues(*classic_cues(labels, score), CLASSIC_WEIGHTS)
        prediction = Prediction(labels, score, scores, image_score=image_score(labels, scores, score), cues=cues)
        prediction.timings = {"normalize": 0.0, "network": 0.0, "postprocess": time.perf_counter() - start}
        return prediction
