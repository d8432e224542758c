"""How training crops are drawn: image weights, modality balance, and crop workers."""

import numpy as np
import pytest
import torch

from seggui.core.errors import TrainingError
from seggui.ml.cards import read_card
from seggui.ml.training import train
from seggui.ml.training.data import CropDataset, Sample, crop_weights
from seggui.ml.training.trainer import loader_workers

from .helpers import write_pairs
from .test_training import run_cli, tiny_config, TINY


def test_images_are_drawn_by_the_square_root_of_their_area():
    weights = crop_weights([100, 400, 400])
    assert weights == pytest.approx([0.2, 0.4, 0.4])


def test_balanced_groups_share_crops_by_the_square_root_of_their_counts():
    groups = ["fluorescence"] * 16 + ["stained"] * 4
    weights = crop_weights([100] * 16 + [400] * 2 + [100] * 2, groups)
    # 16 and 4 images: shares 4 : 2, whatever the images' sizes.
    assert weights[:16].sum() == pytest.approx(2 / 3)
    assert weights[16:].sum() == pytest.approx(1 / 3)
    # Within a group, larger images still give more crops.
    assert weights[16] == pytest.approx(2 * weights[18])


def test_the_dataset_draws_with_those_weights():
    samples = [Sample(f"s{i}", np.full((1, 8, 8), i, np.float32), np.zeros((8, 8), np.int32),
                      np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.float32)) for i in range(3)]
    dataset = CropDataset(samples, 8, 3000, seed=0, groups=["a", "b", "b"])
    # Sample 0 is all zeros: after the intensity jitter (offset at most 0.15) its crops stay
    # below 0.5, while crops of samples 1 and 2 (values 1 and 2, gain at least 0.75) do not.
    from_a = np.mean([float(dataset[i][0].mean()) < 0.5 for i in range(3000)])
    # Group a: one image, group b: two, so a's share is 1 / (1 + sqrt 2).
    assert from_a == pytest.approx(1 / (1 + np.sqrt(2)), abs=0.04)


def test_crop_workers_default_to_none_on_the_cpu_and_several_on_a_gpu(monkeypatch):
    assert loader_workers(None, torch.device("cpu")) == 0
    assert loader_workers(3, torch.device("cpu")) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert loader_workers(None, torch.device("cuda")) == 8
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert loader_workers(None, torch.device("cuda")) == 1
    with pytest.raises(TrainingError, match="--workers"):
        loader_workers(-1, torch.device("cpu"))


@pytest.mark.slow
def test_crop_workers_train_exactly_what_one_process_trains(tmp_path):
    # Crop i of epoch e is fixed by the seed: workers forked each epoch must see the epoch too.
    images, masks = write_pairs(tmp_path / "data", 2)
    train(tiny_config(tmp_path, images, masks, "one", seed=1, workers=0))
    train(tiny_config(tmp_path, images, masks, "two", seed=1, workers=2))
    a = torch.load(tmp_path / "one" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "weights.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_balance_and_workers_are_recorded_on_the_card(tmp_path, capsys):
    images, masks = write_pairs(tmp_path / "data", 3)
    out = tmp_path / "model"
    code, _, err = run_cli(["train", "--images", str(images), "--masks", str(masks), "--epochs", "1",
                            "--out", str(out), "--progress", "jsonl", "--balance-modalities", "--workers", "0",
                            *TINY], capsys)
    assert code == 0, err
    config = read_card(out / "card.json")["training"]["config"]
    assert config["balance_modalities"] is True and config["workers"] == 0


def test_balanced_runs_choose_epochs_by_the_mean_of_each_modality():
    """With --balance-modalities the validation AP that picks the epoch weighs each modality
    by the square root of its image count: four fluorescence images found and one stained image
    missed is 2/3, not 4/5."""
    from seggui.ml.postprocess import InstanceParams
    from seggui.ml.training.validation import score_maps

    labels = np.zeros((32, 32), np.int32)
    labels[8:20, 8:20] = 1
    found = np.zeros((3, 32, 32), np.float32)
    found[0] = np.where(labels > 0, 0.0, 1.0)
    found[1] = 1.0 - found[0]
    missed = np.zeros_like(found)
    missed[0] = 1.0

    def sample(kind):
        meta = {"modality": kind} if kind else {}
        return Sample("s", np.zeros((1, 32, 32), np.float32), labels, labels.astype(np.uint8),
                      np.zeros((32, 32), np.float32), meta=meta)

    maps = [(found, None)] * 4 + [(missed, None)]
    params = InstanceParams(0.5, 0.5, 4, 1)
    balanced = score_maps(maps, [sample("fluorescence")] * 4 + [sample("stained")], params)
    assert balanced["val_ap50"] == pytest.approx(2 / 3)
    assert balanced["val_ap50_images"] == pytest.approx(0.8)
    assert balanced["val_ap50_by_modality"] == {"fluorescence": 1.0, "stained": 0.0}
    plain = score_maps(maps, [sample(None)] * 5, params)
    assert plain["val_ap50"] == pytest.approx(0.8) and "val_ap50_by_modality" not in plain
