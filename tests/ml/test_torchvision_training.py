"""Fine-tuning torchvision DeepLabV3 / Mask R-CNN bases (random weights stand in for COCO's)."""

import json

import numpy as np
import pytest
import torch

from seggui.cli import main
from seggui.core.errors import SegguiError
from seggui.ml.cards import read_card
from seggui.ml.registry import load_model
from seggui.ml.training import TrainConfig, train

from .helpers import write_pairs


@pytest.fixture(autouse=True)
def torch_cache(tmp_path, monkeypatch):
    # torch.hub.get_dir() honours set_dir through this attribute; monkeypatch restores it.
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "torch" / "hub"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def fake_cache_file(cache, kind, aux=False):
    from seggui.ml.torchvision_models import TORCHVISION_MODELS, build

    filename, classes, _ = TORCHVISION_MODELS[kind]
    cache.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build(kind, classes, aux_loss=aux) if kind.startswith("deeplab") else build(kind, classes)
    torch.save(model.state_dict(), cache / filename)
    return cache / filename


def tiny_config(tmp_path, images, masks, base, **kw):
    values = dict(out=tmp_path / "out", images=images, masks=masks, base=base, epochs=1, crop_size=48,
                  crops_per_epoch=2, batch_size=2, threads=2, learning_rate=1e-4, device="cpu")
    values.update(kw)
    return TrainConfig(**values)


def test_deeplab_finetune_events_card_and_prediction(tmp_path, torch_cache):
    fake_cache_file(torch_cache, "deeplabv3_mobilenet_v3_large", aux=True)
    images, masks = write_pairs(tmp_path / "data", 3, shape=(64, 64))
    events = []
    card = train(tiny_config(tmp_path, images, masks, "deeplabv3_mobilenet_v3_large"), on_event=events.append)
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "epoch", "checkpoint", "done"]
    epoch = events[1]
    for key in ("loss", "val_loss", "val_ap50", "val_dice", "eta_s"):
        assert isinstance(epoch[key], float), key
    out = tmp_path / "out"
    assert (out / "weights.pt").is_file() and not (out / "checkpoint.pt").exists()  # finished: no resume
    saved = read_card(out / "card.json")
    assert saved["kind"] == card["kind"] == "deeplabv3_mobilenet_v3_large" and saved["task"] == "semantic"
    assert saved["architecture"]["num_classes"] == 2 and saved["classes"] == ["background", "foreground"]
    assert saved["base_model"]["name"] == "deeplabv3_mobilenet_v3_large"
    assert {"base", "trained", "measured"} <= set(saved["validation"]) and "val_ap50" in saved["validation"]["trained"]
    weights = torch.load(out / "weights.pt", weights_only=True)
    assert weights["classifier.4.weight"].shape[0] == 2 and weights["aux_classifier.4.weight"].shape[0] == 2
    predictor = load_model(out, "cpu")
    prediction = predictor.predict(np.random.default_rng(0).integers(0, 255, (64, 80), dtype=np.uint8))
    assert prediction.labels.shape == (64, 80) and prediction.labels.dtype.kind == "u"
    assert prediction.classes.shape == (64, 80) and prediction.classes.max() < 2


def test_deeplab_resume_and_stop_between_steps(tmp_path, torch_cache):
    fake_cache_file(torch_cache, "deeplabv3_mobilenet_v3_large")
    images, masks = write_pairs(tmp_path / "data", 2, shape=(64, 64))
    config = tiny_config(tmp_path, images, masks, "deeplabv3_mobilenet_v3_large")
    card = train(config, should_stop=lambda: True)  # stops after the first step, still writes weights
    assert card["training"]["stopped"] == "signal"
    config = tiny_config(tmp_path, images, masks, "deeplabv3_mobilenet_v3_large", epochs=2, resume=True)
    events = []
    card = train(config, on_event=events.append)
    assert events[0]["resumed_from_epoch"] == 1
    assert [h["epoch"] for h in card["training"]["history"]] == [1, 2]


def test_missing_torchvision_weights_give_the_clear_error(tmp_path, torch_cache, capsys):
    images, masks = write_pairs(tmp_path / "data", 2, shape=(64, 64))
    with pytest.raises(SegguiError) as caught:
        train(tiny_config(tmp_path, images, masks, "deeplabv3_resnet50"))
    message = str(caught.value)
    assert "deeplabv3_resnet50_coco-cd0a2569.pth" in message and str(torch_cache) in message
    assert "never downloads" in message
    assert not torch_cache.exists()  # nothing was fetched
    code = main(["train", "--images", str(images), "--masks", str(masks), "--base", "maskrcnn_resnet50_fpn",
                 "--epochs", "1", "--out", str(tmp_path / "m"), "--progress", "jsonl"])
    assert code == 2
    error = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")][-1]
    assert error["event"] == "error" and "maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth" in error["message"]


def test_maskrcnn_targets_from_instance_labels():
    from seggui.ml.training.torchvision_data import maskrcnn_targets

    labels = np.zeros((20, 30), dtype=np.int64)
    labels[2:6, 3:10] = 4
    labels[10:18, 20:25] = 7
    labels[0, 0] = 9  # too small to be a cell
    target = maskrcnn_targets(labels, {7: 2})
    assert target["boxes"].tolist() == [[3, 2, 10, 6], [20, 10, 25, 18]]
    assert target["labels"].tolist() == [1, 2] and target["masks"].shape == (2, 20, 30)
    assert maskrcnn_targets(np.zeros((8, 8), dtype=np.int64)) is None


@pytest.mark.slow
def test_maskrcnn_finetune_one_step(tmp_path, torch_cache):
    fake_cache_file(torch_cache, "maskrcnn_resnet50_fpn")
    images, masks = write_pairs(tmp_path / "data", 2, shape=(64, 64))
    events = []
    train(tiny_config(tmp_path, images, masks, "maskrcnn_resnet50_fpn", batch_size=1, crops_per_epoch=1,
                      validation_fraction=0.5), on_event=events.append)
    assert [e["event"] for e in events] == ["start", "epoch", "checkpoint", "done"]
    assert events[1]["val_loss"] is None and isinstance(events[1]["val_ap50"], float)
    out = tmp_path / "out"
    card = read_card(out / "card.json")
    assert card["kind"] == "maskrcnn_resnet50_fpn" and card["architecture"]["num_classes"] == 2
    weights = torch.load(out / "weights.pt", weights_only=True)
    assert weights["roi_heads.box_predictor.cls_score.weight"].shape[0] == 2
    assert weights["roi_heads.mask_predictor.mask_fcn_logits.weight"].shape[0] == 2
    from seggui.ml.inference import PredictOptions

    prediction = load_model(out, "cpu").predict(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8),
                                                PredictOptions(score_threshold=0.0))
    assert prediction.labels.shape == (64, 64) and prediction.labels.dtype.kind == "u"
    assert set(prediction.scores) == set(np.unique(prediction.labels[prediction.labels > 0]).tolist())


def test_text_progress_prints_an_epoch_without_validation_loss(capsys):
    from seggui.ml.cli_train import _printer

    _printer("text")({"event": "epoch", "epoch": 1, "loss": 0.5, "val_loss": None, "val_dice": 0.1,
                      "val_ap50": 0.0, "eta_s": 3.0})
    assert "val loss n/a" in capsys.readouterr().err
