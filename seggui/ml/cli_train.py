"""`seggui train`: train or fine-tune a U-Net (also under `torchrun -m seggui train`), or fine-tune a
torchvision DeepLabV3 / Mask R-CNN whose weights are present locally."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("training data")
    source.add_argument("--project", type=Path, help="a seggui project folder: trains on its reviewed images")
    source.add_argument("--images", type=Path, nargs="+",
                        help="folder of images, or one or more DSB2018-layout folders")
    source.add_argument("--masks", type=Path, help="folder of instance label images named like the images")
    parser.add_argument("--base", help="model name, folder or torchvision .pth to fine-tune: a U-Net, deeplabv3_* or "
                        "maskrcnn_resnet50_fpn (default: train a U-Net from scratch)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="number of epochs (default 50)")
    budget.add_argument("--minutes", type=float, help="wall-clock budget in minutes")
    parser.add_argument("--out", type=Path, required=True, help="folder for weights.pt, card.json, checkpoint.pt")
    parser.add_argument("--progress", choices=["text", "jsonl"], default="text",
                        help="jsonl: one JSON object per line on stdout (for the GUI)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--keep-checkpoint", action="store_true",
                        help="keep OUT/checkpoint.pt after a run that ends by itself (its epochs or minutes "
                             "done, or early stopping), to --resume it later with more; a stopped "
                             "(SIGTERM) run always keeps it")
    advanced = parser.add_argument_group("advanced")
    advanced.add_argument("--batch-size", type=int, default=8)
    advanced.add_argument("--crop-size", type=int,
                          help="side of the training crops (default 256 from scratch, 160 when fine-tuning)")
    advanced.add_argument("--crops-per-epoch", type=int)
    advanced.add_argument("--learning-rate", type=float, help="default 0.002")
    advanced.add_argument("--width", type=int, default=16, help="U-Net first-level channels (from scratch)")
    advanced.add_argument("--depth", type=int, default=4, help="U-Net levels (from scratch)")
    advanced.add_argument("--channels", type=int,
                          help="input channels: from scratch (default 1), or widen a one-channel base to "
                               "3 to learn colour (it starts out computing exactly what the base does)")
    advanced.add_argument("--input-scale", type=float,
                          help="resize images by this before the network (default: measured from the masks "
                               "so the cells reach the base model's cell size; 1 when training from scratch)")
    advanced.add_argument("--no-distance-head", action="store_true")
    advanced.add_argument("--patience", type=int,
                          help="stop after this many epochs without a validation gain (0: never; default: never "
                               "within --minutes, whose best epoch is kept anyway, else 20)")
    advanced.add_argument("--validation-fraction", type=float, default=0.1)
    advanced.add_argument("--holdout-hash-percent", type=float, default=0.0,
                          help="never use images whose name hash falls below this percentage (test set)")
    advanced.add_argument("--threads", type=int, help="CPU threads for torch")
    advanced.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto",
                          help="U-Net arithmetic on a CPU (default auto: bfloat16 where the processor computes "
                               "it natively, about 2.7x the steps per minute; else float32)")
    advanced.add_argument("--workers", type=int,
                          help="processes preparing training crops (default: 0 on the CPU, up to 8 on a GPU)")
    advanced.add_argument("--balance-modalities", action="store_true",
                          help="share crops between fluorescence, stained and brightfield images by the square "
                               "root of their counts, so a rare modality is learnt too")
    advanced.add_argument("--name", help="model name written to the card (default: the folder name)")


def config_from_args(args):
    from seggui.ml.training.config import TrainConfig

    config = TrainConfig(
        out=args.out, images=_images(args.images), masks=args.masks, project=args.project, base=args.base,
        epochs=args.epochs, minutes=args.minutes, device=args.device, seed=args.seed, resume=args.resume,
        keep_checkpoint=args.keep_checkpoint,
        width=args.width, depth=args.depth, channels=args.channels,
        distance_head=not args.no_distance_head, batch_size=args.batch_size, crop_size=args.crop_size,
        crops_per_epoch=args.crops_per_epoch, patience=args.patience,
        validation_fraction=args.validation_fraction, holdout_hash_percent=args.holdout_hash_percent,
        threads=args.threads, name=args.name, input_scale=args.input_scale, workers=args.workers,
        balance_modalities=args.balance_modalities, precision=args.precision,
    )
    config.learning_rate = args.learning_rate  # None: the recipe's (TrainConfig.with_recipe)
    config.extra["command"] = "seggui " + " ".join(sys.argv[1:]) if sys.argv else None
    return config


def _images(folders):
    """One folder stays a Path (as the GUI passes it); several become a list."""
    if not folders:
        return None
    return folders[0] if len(folders) == 1 else list(folders)


def _printer(mode: str):
    def jsonl(event: dict) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    def text(event: dict) -> None:
        kind = event["event"]
        if kind == "start":
            line = (f"training on {event['train_images']} images, validating on {event['val_images']} "
                    f"({event['device']}{', ' + event['precision'] if event.get('precision') else ''}, "
                    f"{event['parameters']:,} parameters)")
            if event.get("scale_note"):
                line += f"; {event['scale_note']}"
        elif kind == "epoch":
            def number(key, digits):  # Mask R-CNN has no validation loss
                value = event.get(key)
                return "n/a" if value is None else f"{value:.{digits}f}"

            line = (f"epoch {event['epoch']}: loss {number('loss', 4)}  val loss {number('val_loss', 4)}  "
                    f"val Dice {number('val_dice', 3)}  val AP50 {number('val_ap50', 3)}  eta {event['eta_s']:.0f}s")
        elif kind == "done":
            line = f"done: best epoch {event['best_epoch']}, val {event['val']}, written to {event['out']}"
        elif kind == "error":
            line = f"error: {event['message']}"
        else:
            return
        print(line, file=sys.stderr, flush=True)

    return jsonl if mode == "jsonl" else text


def run(args) -> int:
    from seggui.core.errors import SegguiError
    from seggui.ml.training import train

    emit = _printer(args.progress)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (GUI cancel, job scheduler) finishes the current step and keeps the checkpoint.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        train(config_from_args(args), on_event=emit, should_stop=stop.is_set)
    except SegguiError as error:
        if args.progress == "jsonl":
            emit({"event": "error", "message": str(error)})
        raise
    except Exception as error:  # noqa: BLE001 - the GUI still needs an error event
        if args.progress == "jsonl":
            emit({"event": "error", "message": f"{type(error).__name__}: {error}"})
        raise
    return 0
