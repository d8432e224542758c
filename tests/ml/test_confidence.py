"""Per-cell and per-image confidence: range, one entry per cell, merges score low, --scores."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from seggui.ml import confidence
from seggui.ml.classic import ClassicPredictor, CLASSIC_CARD
from seggui.ml.inference import PredictOptions
from seggui.ml.registry import load_model
from .helpers import disks_image

# Two touching pairs (centres 24 px apart, radius 12) and two lone cells.
CENTRES = ((24, 24), (24, 48), (72, 30), (72, 100), (30, 100), (30, 124))


def image_and_truth():
    return disks_image(shape=(100, 150), centres=CENTRES, radius=12, seed=3)


def merged(labels: np.ndarray, keep: int, into: int) -> np.ndarray:
    out = labels.copy()
    out[out == into] = keep
    return out


@pytest.fixture(scope="module")
def nuclei():
    return load_model("nuclei", "cpu", threads=2)


def check_scores(prediction):
    ids = set(np.unique(prediction.labels[prediction.labels > 0]).tolist())
    assert set(prediction.scores) == ids and ids
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in prediction.scores.values())
    assert 0.0 <= prediction.image_score <= 1.0
    for values in prediction.cues.values():
        assert set(values) == ids


def test_classic_scores_every_cell_in_range():
    image, _ = image_and_truth()
    prediction = ClassicPredictor("classic", CLASSIC_CARD, None).predict(image)
    check_scores(prediction)
    assert prediction.image_score > 0.7  # clean synthetic disks


def test_network_scores_every_cell_in_range_with_and_without_flip(nuclei):
    image, _ = image_and_truth()
    plain = nuclei.predict(image)
    check_scores(plain)
    flipped = nuclei.predict(image, PredictOptions(score_flip=True))
    check_scores(flipped)
    assert "agreement" in flipped.cues and "agreement" not in plain.cues
    assert "flip" in flipped.timings


def test_no_cells_has_a_defined_image_score():
    empty = np.zeros((40, 50), np.uint16)
    assert confidence.image_score(empty, {}) == 1.0
    assert confidence.image_score(empty, {}, np.full((40, 50), 0.25, np.float32)) == pytest.approx(0.75)
    assert confidence.network_scores(empty, np.zeros((40, 50), np.float32)) == {}
    prediction = ClassicPredictor("classic", CLASSIC_CARD, None).predict(np.zeros((40, 50), np.uint8))
    assert prediction.scores == {} and prediction.image_score == 1.0


def test_image_score_is_its_least_confident_tenth_of_cells():
    """Ten cells: nine sure ones and a doubtful one make a doubtful image, whatever their sizes."""
    labels = np.zeros((20, 20), np.uint16)
    for cell in range(1, 11):
        labels[cell - 1, :] = cell
    labels[10:, :] = 10  # the doubtful cell is the largest: an area-weighted mean would hide nothing
    scores = {cell: 0.9 for cell in range(1, 10)} | {10: 0.1}
    assert confidence.image_score(labels, scores) == pytest.approx(np.quantile([0.9] * 9 + [0.1], 0.1))
    assert confidence.image_score(labels, {cell: 0.9 for cell in range(1, 11)}) == pytest.approx(0.9)
    assert confidence.image_score(labels, scores) < 0.85


def test_a_merged_pair_scores_below_clean_cells_classic():
    image, truth = image_and_truth()
    grey = ClassicPredictor("classic", CLASSIC_CARD, None).predict(image).probability
    scores = confidence.classic_scores(merged(truth, 1, 2), grey)
    assert scores[1] < min(scores[i] for i in (3, 4, 5, 6))


def test_a_merged_pair_scores_below_clean_cells_network(nuclei):
    from seggui.ml.normalize import normalize_image

    image, truth = image_and_truth()
    prediction = nuclei.predict(image, PredictOptions(test_time_flips=False))  # the maps below: no flips
    labels = prediction.labels
    # The model separates the touching pairs; merge the first pair it found back together.
    first, second = int(labels[24, 24]), int(labels[24, 48])
    assert first and second and first != second
    maps = nuclei.dense_maps(normalize_image(image, nuclei.in_channels, nuclei.low, nuclei.high), PredictOptions(),
                             None, None)
    foreground = 1.0 - maps[0]
    wrong = merged(labels, first, second)
    scores = confidence.network_scores(wrong, foreground, maps[3], maps[1])
    clean = [scores[int(labels[y, x])] for y, x in CENTRES[2:4]]
    assert scores[first] < min(clean)
    # The predictor's own scores for the same cells use the same code.
    again = confidence.network_scores(labels, foreground, maps[3], maps[1])
    assert again == pytest.approx(prediction.scores)


def test_best_iou():
    a = np.zeros((6, 6), np.uint16)
    a[:3, :3] = 1
    a[3:, 3:] = 4
    b = np.zeros_like(a)
    b[:3, :2] = 7
    ids = confidence.cell_ids(a)
    assert confidence.best_iou(a, b, ids).tolist() == pytest.approx([6 / 9, 0.0])


def test_predict_scores_writes_json_matching_the_png(tmp_path):
    from seggui.cli import main

    image, _ = image_and_truth()
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "cells.png"), (image // 256).astype(np.uint8))
    cv2.imwrite(str(folder / "empty.png"), np.zeros((30, 40), np.uint8))
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--model", "classic", "--out", str(out), "--scores"]) == 0
    for stem in ("cells", "empty"):
        labels = cv2.imread(str(out / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        document = json.loads((out / f"{stem}.json").read_text())
        assert set(document) == {"image_score", "instances"}
        ids = {str(i) for i in np.unique(labels[labels > 0]).tolist()}
        assert set(document["instances"]) == ids
        assert all(0.0 <= v <= 1.0 for v in document["instances"].values())
        assert 0.0 <= document["image_score"] <= 1.0
    assert len(json.loads((out / "cells.json").read_text())["instances"]) == len(CENTRES)
    # The same numbers the GUI's prediction job delivers.
    from seggui.jobs.prediction import PredictionTask, predict_images

    class Context:
        cancelled = False

        def progress(self, *args):
            pass

        def check_cancelled(self):
            pass

    [result] = predict_images(Context(), "classic", [PredictionTask("k", "cells", path=folder / "cells.png")])
    document = json.loads((out / "cells.json").read_text())
    assert {str(k): round(v, 6) for k, v in result.scores.items()} == document["instances"]
    assert round(result.image_score, 6) == document["image_score"]


def test_predict_without_scores_writes_no_json(tmp_path):
    from seggui.cli import main

    image, _ = image_and_truth()
    cv2.imwrite(str(tmp_path / "cells.png"), (image // 256).astype(np.uint8))
    assert main(["predict", str(tmp_path / "cells.png"), "--model", "classic", "--out", str(tmp_path / "o")]) == 0
    assert not list((tmp_path / "o").glob("*.json"))


def test_solidity_and_maxima_equal_scikit_image_and_scipy():
    """The per-box fast paths give regionprops' solidity and ndimage.maximum exactly, on
    convex, concave, holed, split and one-pixel cells, with ids that skip numbers."""
    from scipy import ndimage
    from skimage.measure import regionprops

    labels = np.zeros((90, 120), dtype=np.uint16)
    cv2.circle(labels, (20, 20), 12, 3, -1)  # disk
    cv2.rectangle(labels, (45, 5), (75, 35), 7, -1)
    labels[15:25, 55:65] = 0  # a hole
    cv2.ellipse(labels, (100, 25), (15, 8), 30, 0, 360, 8, -1)
    labels[50:85, 5:12] = 9  # an L shape (concave)
    labels[78:85, 5:40] = 9
    labels[55:60, 60:65] = 12  # two parts of one id
    labels[70:74, 90:110] = 12
    labels[45, 100] = 15  # one pixel
    labels[50, 80:95] = 16  # a line
    values = np.random.default_rng(0).random(labels.shape)
    ids = confidence.cell_ids(labels)
    expected = {r.label: r.solidity for r in regionprops(labels) if r.label != 16}
    got = dict(zip(ids.tolist(), confidence.solidity(labels, ids)))
    assert got[16] == pytest.approx(1.0)
    for cell, value in expected.items():
        assert got[cell] == pytest.approx(value, abs=1e-12), cell
    assert got[9] < 0.7 and got[7] < 1.0
    assert np.array_equal(confidence._maxima(values, labels, ids),
                          ndimage.maximum(values, labels=labels, index=ids))
