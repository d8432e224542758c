"""bfloat16 on the CPU: chosen only where the processor has it, same answers as float32,
and recorded by training."""

from pathlib import Path

import numpy as np
import pytest
import torch

from seggui.core.imageio import read_image
from seggui.ml import precision
from seggui.ml.cards import read_card
from seggui.ml.inference import PredictOptions
from seggui.ml.metrics import score_image
from seggui.ml.registry import load_model
from seggui.ml.training import TrainConfig, train

from .helpers import write_pairs

SAMPLE = Path(__file__).resolve().parents[2] / "seggui" / "resources" / "sample" / "images"


def test_auto_is_bfloat16_only_on_a_cpu_that_computes_it_natively(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(precision.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: True)
    assert precision.resolve("auto", cpu) == "bfloat16"
    assert precision.resolve(None, cpu) == "bfloat16"
    assert precision.resolve("float32", cpu) == "float32"
    monkeypatch.setattr(precision, "cpu_has_native_bfloat16", lambda: False)
    assert precision.resolve("auto", cpu) == "float32"
    assert precision.resolve("bfloat16", cpu) == "bfloat16"  # asked for: it runs, emulated
    # The environment overrides "auto" (a person who distrusts it), not an explicit choice.
    monkeypatch.setenv(precision.ENVIRONMENT_VARIABLE, "bfloat16")
    assert precision.resolve("auto", cpu) == "bfloat16"
    assert precision.resolve("float32", cpu) == "float32"
    monkeypatch.setenv(precision.ENVIRONMENT_VARIABLE, "half")
    with pytest.raises(ValueError, match="SEGGUI_PRECISION.*half"):
        precision.resolve("auto", cpu)
    assert precision.resolve("auto", torch.device("cuda")) == "mixed"


def test_the_probe_answers_without_error():
    assert isinstance(precision.cpu_has_native_bfloat16(), bool)


def _predict(predictor, image, chosen):
    return predictor.predict(image, PredictOptions(test_time_flips=False, precision=chosen))


@pytest.mark.parametrize("name", ["nuclei-5f9d29.png", "nuclei-6bd18a.png"])
def test_bundled_model_in_bfloat16_finds_the_cells_it_finds_in_float32(name):
    image = read_image(SAMPLE / name).array
    predictor = load_model("nuclei", "cpu", threads=2)
    full = _predict(predictor, image, "float32")
    reduced = _predict(predictor, image, "bfloat16")
    assert np.abs(full.probability - reduced.probability).max() < 0.15
    assert np.abs(full.probability - reduced.probability).mean() < 0.01
    # The same cells, taking float32's answer as the truth.
    scores, _ = score_image(full.labels, reduced.labels)
    assert scores.n_true > 5 and scores.ap50 > 0.9


def test_training_in_bfloat16_learns_and_records_what_it_ran(tmp_path, monkeypatch):
    from seggui.ml.training import trainer

    seen = []  # the dtype of the network's output in each training step
    real_loss = trainer.segmentation_loss

    def recording_loss(logits, *args):
        if torch.is_grad_enabled():
            seen.append(logits.dtype)
        return real_loss(logits, *args)

    monkeypatch.setattr(trainer, "segmentation_loss", recording_loss)
    images, masks = write_pairs(tmp_path / "data", 3)
    events = []
    card = train(TrainConfig(out=tmp_path / "bf16", images=images, masks=masks, epochs=2, width=4, depth=2,
                             crop_size=32, crops_per_epoch=8, batch_size=4, threads=2, tune_thresholds=False,
                             precision="bfloat16"), on_event=events.append)
    assert events[0]["precision"] == "bfloat16"
    assert seen and set(seen) == {torch.bfloat16}
    assert card["training"]["precision"] == "bfloat16"
    assert card["training"]["config"]["precision"] == "bfloat16"
    losses = [h["loss"] for h in card["training"]["history"]]
    assert all(np.isfinite(losses)) and all(np.isfinite(h["val_loss"]) for h in card["training"]["history"])
    # Weights are saved in float32 whatever the arithmetic: the same kind of file.
    weights = torch.load(tmp_path / "bf16" / "weights.pt", weights_only=True)
    assert {tensor.dtype for tensor in weights.values() if tensor.is_floating_point()} == {torch.float32}
    card32 = train(TrainConfig(out=tmp_path / "fp32", images=images, masks=masks, epochs=1, width=4, depth=2,
                               crop_size=32, crops_per_epoch=8, batch_size=4, threads=2, tune_thresholds=False,
                               precision="float32"))
    assert read_card(tmp_path / "fp32" / "card.json")["training"]["precision"] == "float32"
    assert set(seen[-2:]) == {torch.float32}
    assert card32["training"]["precision"] == "float32"


def test_an_unknown_precision_is_a_training_error(tmp_path):
    from seggui.core.errors import TrainingError

    images, masks = write_pairs(tmp_path / "data", 2)
    with pytest.raises(TrainingError, match="precision"):
        train(TrainConfig(out=tmp_path / "x", images=images, masks=masks, epochs=1, width=4, depth=2,
                          crop_size=32, crops_per_epoch=8, batch_size=4, threads=2, precision="half"))
