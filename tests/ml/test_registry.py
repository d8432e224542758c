import json

import numpy as np
import pytest
import torch

from seggui.core.errors import ModelError
from seggui.ml.registry import list_models, load_model, resolve_model

from .helpers import save_tiny_unet


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path, monkeypatch):
    # torch.hub.get_dir() honours set_dir through this attribute; monkeypatch restores it.
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "torch" / "hub"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def by_name(models):
    return {m.name: m for m in models}


def test_builtin_and_bundled_models_are_listed(empty_torch_cache):
    models = by_name(list_models())
    assert models["classic"].available
    assert "nuclei" in models and models["nuclei"].kind == "unet" and models["nuclei"].source == "bundled"
    for kind in ("deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large", "maskrcnn_resnet50_fpn"):
        info = models[kind]
        assert not info.available
        assert str(empty_torch_cache) in info.unavailable_reason
        assert ".pth" in info.unavailable_reason


def test_user_and_project_models(tmp_path, monkeypatch):
    import os

    save_tiny_unet(tmp_path / "user" / "mine")
    monkeypatch.setenv("SEGGUI_MODELS_DIR", str(tmp_path / "user"))
    save_tiny_unet(tmp_path / "project" / "models" / "v2")
    broken = tmp_path / "project" / "models" / "broken"
    broken.mkdir()
    (broken / "card.json").write_text("{not json")
    models = by_name(list_models([tmp_path / "project" / "models"]))
    assert models["mine"].source == "user" and models["mine"].available
    assert models["v2"].source == "project"
    assert not models["broken"].available and "JSON" in models["broken"].unavailable_reason
    assert resolve_model("v2", [tmp_path / "project" / "models"]).source == "project"
    assert os.environ["SEGGUI_MODELS_DIR"] == str(tmp_path / "user")


def test_missing_weights_listed_unavailable(tmp_path, monkeypatch):
    folder = save_tiny_unet(tmp_path / "user" / "noweights")
    (folder / "weights.pt").unlink()
    monkeypatch.setenv("SEGGUI_MODELS_DIR", str(tmp_path / "user"))
    info = by_name(list_models())["noweights"]
    assert not info.available and "weights.pt" in info.unavailable_reason
    with pytest.raises(ModelError, match="unavailable"):
        load_model("noweights")


def test_unknown_model_and_bad_cards(tmp_path):
    with pytest.raises(ModelError, match="no model named"):
        load_model("does-not-exist")
    folder = save_tiny_unet(tmp_path / "bad")
    card = json.loads((folder / "card.json").read_text())
    card["architecture"]["depth"] = "four"
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="depth"):
        load_model(folder)
    card["kind"] = "transformer9000"
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="unknown model kind"):
        load_model(folder)


def test_torchvision_deeplab_from_cache_file(empty_torch_cache):
    from seggui.ml.torchvision_models import TORCHVISION_MODELS, build

    filename = TORCHVISION_MODELS["deeplabv3_mobilenet_v3_large"][0]
    empty_torch_cache.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(build("deeplabv3_mobilenet_v3_large", 21, aux_loss=True).state_dict(), empty_torch_cache / filename)
    info = by_name(list_models())["deeplabv3_mobilenet_v3_large"]
    assert info.available
    predictor = load_model("deeplabv3_mobilenet_v3_large", "cpu")
    prediction = predictor.predict(np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8))
    assert prediction.classes.shape == (64, 80) and prediction.classes.max() < 21
    assert prediction.labels.shape == (64, 80)
    # A user-chosen local file works too, recognised by its torchvision name.
    assert load_model(empty_torch_cache / filename, "cpu").task == "semantic"


@pytest.mark.slow
def test_maskrcnn_instances_with_scores(tmp_path):
    from seggui.ml.torchvision_models import build, card_for

    folder = tmp_path / "maskrcnn"
    folder.mkdir()
    torch.manual_seed(0)
    torch.save(build("maskrcnn_resnet50_fpn", 2).state_dict(), folder / "weights.pt")
    (folder / "card.json").write_text(json.dumps(card_for("maskrcnn_resnet50_fpn", "maskrcnn", 2)))
    predictor = load_model(folder, "cpu")
    from seggui.ml.inference import PredictOptions

    prediction = predictor.predict(np.random.default_rng(0).integers(0, 255, (96, 96), dtype=np.uint8),
                                   PredictOptions(score_threshold=0.0))
    assert prediction.labels.shape == (96, 96) and prediction.labels.dtype == np.uint16
    assert set(prediction.scores) == set(np.unique(prediction.labels[prediction.labels > 0]).tolist())
