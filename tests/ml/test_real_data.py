"""Real inference with the bundled nuclei model on real DSB2018 images."""

import numpy as np
import pytest

from seggui.core.imageio import read_image
from seggui.ml.inference import PredictOptions
from seggui.ml.metrics import average_precision, iou_matrix
from seggui.ml.registry import load_model


@pytest.fixture(scope="module")
def nuclei():
    return load_model("nuclei", "cpu", threads=2)


def test_bundled_model_card_and_size():
    from seggui.ml.registry import RESOURCE_MODELS, resolve_model

    info = resolve_model("nuclei")
    assert info.available and info.source == "bundled" and info.kind == "unet"
    assert (RESOURCE_MODELS / "nuclei" / "weights.pt").stat().st_size < 6 * 1024 * 1024


def test_fixture_crop(nuclei, fixtures_dir):
    image = read_image(fixtures_dir / "ml" / "dsb_fluorescence_crop.png").array
    truth = read_image(fixtures_dir / "ml" / "dsb_fluorescence_crop_labels.png").array
    prediction = nuclei.predict(image)
    assert prediction.labels.dtype == np.uint16 and prediction.labels.shape == image.shape
    assert prediction.probability.shape == image.shape
    count = int(prediction.labels.max())
    assert 0.6 * truth.max() <= count <= 1.5 * truth.max()
    # A held-out image (never trained on): most nuclei found with IoU > 0.5.
    assert average_precision(truth, prediction.labels) > 0.5
    assert all(0 <= s <= 1 for s in prediction.scores.values())


def test_real_rgba_dsb_image_tiled_matches_untiled(nuclei, shared_data):
    from seggui.ml.dsb import heldout_pairs, load_truth

    root = shared_data / "cells" / "dsb2018"
    if not root.is_dir():
        pytest.skip("DSB2018 not in the shared data")
    pair = next(p for p in heldout_pairs(root) if p.stem.startswith("5f9d29d6388c"))
    image = read_image(pair.image_path).array
    assert image.shape[2] == 4  # RGBA as shipped by DSB: alpha is dropped
    whole = nuclei.predict(image, PredictOptions(tile=1024))
    tiled = nuclei.predict(image, PredictOptions(tile=256, overlap=64, batch_size=4))
    assert whole.labels.shape == image.shape[:2]
    assert whole.labels.max() > 50  # 148 annotated nuclei
    truth = load_truth(pair)
    assert average_precision(truth, whole.labels) > 0.5
    # Same nuclei from tiles as from the whole image: nearly all match one-to-one.
    assert average_precision(whole.labels, tiled.labels) > 0.9
    iou = iou_matrix(whole.labels, tiled.labels)
    assert iou.shape[0] > 50
    # Probabilities agree away from seams (interior of the first tile).
    np.testing.assert_allclose(whole.probability[40:150, 40:150], tiled.probability[40:150, 40:150], atol=0.05)


def test_predict_cli_writes_labels_and_continues_after_failures(tmp_path, fixtures_dir, capsys):
    import shutil

    from seggui.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(fixtures_dir / "ml" / "dsb_fluorescence_crop.png", inputs / "a.png")
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    shutil.copy(fixtures_dir / "ml" / "dsb_fluorescence_crop.png", inputs / "c.png")
    out = tmp_path / "out"
    code = main(["predict", str(inputs), "--model", "nuclei", "--out", str(out), "--tile", "128", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.png" in err and "2 of 3 images" in err
    labels = read_image(out / "a.png").array
    assert labels.dtype == np.uint16 and labels.shape == (192, 256) and labels.max() > 5
    assert (out / "c.png").is_file() and not (out / "broken.png").exists()
    assert "\r[" not in err  # no progress bar when stderr is not a terminal
    # predicted labels evaluate against themselves as perfect
    assert main(["evaluate", "--pred", str(out), "--gt", str(out), "--json"]) == 0
    assert '"ap50": 1.0' in capsys.readouterr().out


def test_predict_cli_bad_model_and_missing_input(tmp_path, capsys):
    from seggui.cli import main

    assert main(["predict", str(tmp_path / "nope.png"), "--out", str(tmp_path / "o")]) == 2
    assert "no such image" in capsys.readouterr().err
    (tmp_path / "x.png").write_bytes(b"")
    assert main(["predict", str(tmp_path / "x.png"), "--model", "nonexistent", "--out", str(tmp_path / "o")]) == 2
    assert "no model named" in capsys.readouterr().err


def test_models_cli_lists_everything(capsys):
    from seggui.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "nuclei" in out and "classic" in out and "maskrcnn_resnet50_fpn" in out
