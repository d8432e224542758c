import json

import cv2
import numpy as np
import pytest

from seggui.ml.metrics import average_precision, foreground_dice, iou_matrix, score_image, summarize


def squares(*boxes, shape=(40, 40)):
    labels = np.zeros(shape, dtype=np.uint16)
    for index, (y0, x0, y1, x1) in enumerate(boxes, start=1):
        labels[y0:y1, x0:x1] = index
    return labels


def test_identical_masks_score_one():
    truth = squares((2, 2, 10, 10), (20, 20, 30, 30), (12, 2, 18, 8))
    scores, _ = score_image(truth, truth.copy())
    assert scores.ap50 == 1.0 and scores.ap50_95 == 1.0
    assert scores.precision == scores.recall == scores.f1 == scores.mean_dice == 1.0


def test_ids_do_not_matter_only_shapes():
    truth = squares((2, 2, 10, 10), (20, 20, 30, 30))
    pred = np.where(truth == 1, 7, np.where(truth == 2, 3, 0)).astype(np.uint16)
    assert average_precision(truth, pred) == 1.0


def test_hand_made_counts():
    truth = squares((0, 0, 10, 10), (20, 20, 30, 30))  # two cells
    # one exact match, one false positive elsewhere, the second cell missed
    pred = squares((0, 0, 10, 10), (32, 0, 38, 6))
    scores, _ = score_image(truth, pred)
    assert (scores.tp50, scores.fp50, scores.fn50) == (1, 1, 1)
    assert scores.ap50 == pytest.approx(1 / 3)
    assert scores.precision == pytest.approx(0.5) and scores.recall == pytest.approx(0.5)
    assert scores.f1 == pytest.approx(0.5)


def test_iou_threshold_is_strict_and_dice_follows_iou():
    truth = squares((0, 0, 10, 10))
    pred = squares((0, 0, 10, 5))  # IoU exactly 0.5: not a match at 0.5
    assert iou_matrix(truth, pred)[0, 0] == pytest.approx(0.5)
    assert average_precision(truth, pred, 0.5) == 0.0
    pred = squares((0, 0, 10, 8))  # IoU 0.8, Dice 2*0.8/1.8
    scores, results = score_image(truth, pred)
    assert scores.ap50 == 1.0
    assert scores.mean_dice == pytest.approx(2 * 0.8 / 1.8)
    # matched at 0.5..0.75 (6 thresholds), not at 0.8..0.95 (4): AP50:95 = 6/10
    assert scores.ap50_95 == pytest.approx(0.6)


def test_empty_images():
    empty = np.zeros((8, 8), np.uint16)
    assert average_precision(empty, empty) == 1.0
    assert average_precision(squares((0, 0, 4, 4), shape=(8, 8)), empty) == 0.0
    assert foreground_dice(empty, empty) == 1.0


def test_pooled_summary_sums_counts():
    truth = squares((0, 0, 10, 10), (20, 20, 30, 30))
    _, a = score_image(truth, truth)
    _, b = score_image(truth, np.zeros_like(truth))
    overall = summarize([a, b])
    assert (overall["tp50"], overall["fn50"], overall["fp50"]) == (2, 2, 0)
    assert overall["ap50"] == pytest.approx(0.5)
    assert overall["mean_image_ap50"] == pytest.approx(0.5)


def test_evaluate_cli_pairs_by_stem(tmp_path, capsys):
    from seggui.cli import main

    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    truth = squares((0, 0, 10, 10), (20, 20, 30, 30))
    cv2.imwrite(str(gt / "a.png"), truth)
    cv2.imwrite(str(pred / "a.png"), truth)
    cv2.imwrite(str(gt / "b.png"), truth)
    cv2.imwrite(str(pred / "b.png"), squares((0, 0, 10, 10)))
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["images"]["a"]["ap50"] == 1.0
    assert report["images"]["b"]["ap50"] == pytest.approx(0.5)
    assert report["overall"]["ap50"] == pytest.approx(3 / 4)
    assert main(["evaluate", "--pred", str(pred), "--gt", str(gt)]) == 0
    assert "overall" in capsys.readouterr().out


def test_evaluate_cli_without_pairs_is_a_clear_error(tmp_path, capsys):
    from seggui.cli import main

    (tmp_path / "p").mkdir()
    (tmp_path / "g").mkdir()
    assert main(["evaluate", "--pred", str(tmp_path / "p"), "--gt", str(tmp_path / "g")]) == 2
    assert "no label image" in capsys.readouterr().err
