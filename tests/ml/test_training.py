import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seggui.cli import main
from seggui.ml.cards import read_card
from seggui.ml.registry import load_model
from seggui.ml.training import TrainConfig, train
from seggui.ml.training.data import heldout_by_hash

from .helpers import disks_image, save_tiny_unet, write_pairs

TINY = ["--width", "4", "--depth", "2", "--crop-size", "32", "--crops-per-epoch", "8", "--batch-size", "4",
        "--threads", "2"]
REPO = Path(__file__).resolve().parents[2]


def tiny_config(tmp_path, images, masks, out="out", **kw):
    values = dict(out=tmp_path / out, images=images, masks=masks, epochs=2, width=4, depth=2, crop_size=32,
                  crops_per_epoch=8, batch_size=4, threads=2, tune_thresholds=False)
    values.update(kw)
    return TrainConfig(**values)


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")], captured.err


def test_train_cli_jsonl_events_and_usable_model(tmp_path, capsys):
    images, masks = write_pairs(tmp_path / "data", 3)
    out = tmp_path / "model"
    code, events, err = run_cli(["train", "--images", str(images), "--masks", str(masks), "--epochs", "2",
                                 "--out", str(out), "--progress", "jsonl", *TINY], capsys)
    assert code == 0, err
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds.count("epoch") == 2 and kinds.count("checkpoint") == 2
    epoch = next(e for e in events if e["event"] == "epoch")
    for key in ("epoch", "loss", "val_loss", "val_dice", "val_ap50", "eta_s"):
        assert isinstance(epoch[key], (int, float)), key
    card = read_card(out / "card.json")
    assert card["kind"] == "unet" and len(card["training"]["images"]) == 3
    assert all(len(item["sha256"]) == 64 for item in card["training"]["images"])
    assert len(card["training"]["history"]) == 2 and card["versions"]["torch"] == torch.__version__
    # A run that ended by itself keeps the model (weights and card), not the resumable checkpoint.
    assert (out / "weights.pt").is_file() and not (out / "checkpoint.pt").exists()
    assert events[-1]["checkpoint"] is None
    prediction = load_model(out, "cpu").predict(disks_image()[0])
    assert prediction.labels.shape == (96, 128)


def test_training_is_deterministic_with_a_seed(tmp_path):
    images, masks = write_pairs(tmp_path / "data", 2)
    train(tiny_config(tmp_path, images, masks, "a", seed=3))
    train(tiny_config(tmp_path, images, masks, "b", seed=3))
    a = torch.load(tmp_path / "a" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "weights.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_from_the_checkpoint(tmp_path):
    images, masks = write_pairs(tmp_path / "data", 2)
    train(tiny_config(tmp_path, images, masks, epochs=1, keep_checkpoint=True))
    assert (tmp_path / "out" / "checkpoint.pt").is_file()
    events = []
    card = train(tiny_config(tmp_path, images, masks, epochs=3, resume=True), on_event=events.append)
    assert events[0]["resumed_from_epoch"] == 1
    assert [h["epoch"] for h in card["training"]["history"]] == [1, 2, 3]
    assert not (tmp_path / "out" / "checkpoint.pt").exists()  # finished now


@pytest.mark.parametrize("budget", [{"minutes": 0.0001, "epochs": None}, {"epochs": 6, "patience": 1}])
def test_a_finished_run_drops_its_checkpoint_a_stopped_one_keeps_it(tmp_path, budget):
    images, masks = write_pairs(tmp_path / "data", 2)
    card = train(tiny_config(tmp_path, images, masks, "done", **budget))
    assert card["training"]["stopped"] in ("time budget", "early stopping", None)
    assert (tmp_path / "done" / "weights.pt").is_file() and (tmp_path / "done" / "card.json").is_file()
    assert not (tmp_path / "done" / "checkpoint.pt").exists()
    events = []
    card = train(tiny_config(tmp_path, images, masks, "stopped", **budget), on_event=events.append,
                 should_stop=lambda: True)
    assert card["training"]["stopped"] == "signal"
    assert (tmp_path / "stopped" / "checkpoint.pt").is_file()  # resumable: --resume continues it
    assert events[-1]["checkpoint"] == str(tmp_path / "stopped" / "checkpoint.pt")


def test_single_image_validates_on_a_held_out_region(tmp_path):
    images, masks = write_pairs(tmp_path / "data", 1, shape=(128, 160))
    card = train(tiny_config(tmp_path, images, masks, epochs=1))
    assert card["training"]["validation_images"] == ["img0#validation-region"]


def test_fine_tuning_records_base_versus_new(tmp_path):
    images, masks = write_pairs(tmp_path / "data", 2)
    base = save_tiny_unet(tmp_path / "base", depth=2, width=4)
    card = train(tiny_config(tmp_path, images, masks, base=str(base), epochs=1))
    assert card["base_model"]["name"] == "base"
    assert card["validation"]["base"]["val_ap50"] is not None
    assert card["validation"]["trained"]["val_ap50"] is not None


def test_holdout_split_is_stable():
    stems = [f"image{i}" for i in range(200)]
    held = [s for s in stems if heldout_by_hash(s, 15)]
    assert 15 <= len(held) <= 45
    assert held == [s for s in stems if heldout_by_hash(s, 15)]
    assert not any(heldout_by_hash(s, 0) for s in stems)


@pytest.mark.parametrize("extra,message", [
    (["--project", "somewhere"], "not a seggui project"),
    (["--images", "/nonexistent/images"], "image folder not found"),
])
def test_bad_training_input_is_a_clear_error(tmp_path, capsys, extra, message):
    code, _, err = run_cli(["train", *extra, "--out", str(tmp_path / "o"), "--epochs", "1"], capsys)
    assert code == 2 and message in err


def test_images_without_matching_masks(tmp_path, capsys):
    images, masks = write_pairs(tmp_path / "data", 1)
    for path in masks.iterdir():
        path.rename(path.with_name("other.png"))
    code, events, err = run_cli(["train", "--images", str(images), "--masks", str(masks), "--out",
                                 str(tmp_path / "o"), "--progress", "jsonl"], capsys)
    assert code == 2 and "same name" in err
    assert events[-1]["event"] == "error"


def _environment():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return env


@pytest.mark.slow
def test_sigterm_stops_cleanly_keeping_the_checkpoint(tmp_path):
    images, masks = write_pairs(tmp_path / "data", 2)
    out = tmp_path / "model"
    process = subprocess.Popen(
        [sys.executable, "-m", "seggui", "train", "--images", str(images), "--masks", str(masks), "--minutes", "5",
         "--out", str(out), "--progress", "jsonl", *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(), cwd=REPO)
    events = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "checkpoint":
            process.send_signal(signal.SIGTERM)
            break
        assert time.monotonic() < deadline
    rest, err = process.communicate(timeout=120)
    events += [json.loads(line) for line in rest.splitlines()]
    assert process.returncode == 0, err
    assert events[-1]["event"] == "done" and events[-1]["stopped"] == "signal"
    assert (out / "checkpoint.pt").is_file() and (out / "card.json").is_file()


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path):
    images, masks = write_pairs(tmp_path / "data", 3)
    out = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
         "-m", "seggui", "train", "--images", str(images), "--masks", str(masks), "--epochs", "2",
         "--out", str(out), "--progress", "jsonl", "--device", "cpu", *TINY[:-2], "--threads", "1"],
        capture_output=True, text=True, env=_environment(), cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # Only rank 0 reports: one start, one done.
    assert [e["event"] for e in events].count("start") == 1
    assert events[0]["world_size"] == 2 and events[-1]["event"] == "done"
    assert read_card(out / "card.json")["training"]["world_size"] == 2


def test_torchrun_predict_splits_the_images_across_ranks(tmp_path, fixtures_dir):
    import shutil

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        shutil.copy(fixtures_dir / "ml" / "dsb_fluorescence_crop.png", folder / f"crop{index}.png")
    out = tmp_path / "labels"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29534",
         "-m", "seggui", "predict", str(folder), "--model", "classic", "--out", str(out), "--device", "cpu"],
        capture_output=True, text=True, env=_environment(), cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["crop0.png", "crop1.png", "crop2.png"]
    # Each rank reports its own share: 2 + 1 images.
    assert "rank 0/2: 2 of 2" in result.stderr and "rank 1/2: 1 of 1" in result.stderr
