"""Training options, one dataclass shared by the CLI, the GUI and the card that records them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path


# The recipe `seggui train`, the Training dock and seggui.api.train share. Fine-tuning is for
# minutes on a few images, so it is built for steps per minute: smaller crops (2.5 times as
# many per second; with the cells brought to the model's size, a 160 px crop still holds
# dozens) and the from-scratch learning rate. benchmarks/finetune.py, 8 images, 8 minutes:
# AP@0.5 0.195 with 256 px crops at 5e-4, 0.493 with 160 px at 2e-3 (same machine, same run).
SCRATCH_LEARNING_RATE = 2e-3
FINE_TUNE_LEARNING_RATE = 2e-3
SCRATCH_CROP_SIZE = 256
FINE_TUNE_CROP_SIZE = 160
# A time budget is spent whole: early stopping after 20 epochs without a gain ended every 8-minute
# fine-tune after 2.4-3.1 minutes; using all 8 gave 0.664 -> 0.717 (seed 0) and 0.543 -> 0.654 (seed 1),
# same run (benchmarks/finetune.py --compare "--patience 0"). Without a budget, 20 epochs.
EPOCHS_PATIENCE = 20


@dataclass
class TrainConfig:
    out: Path
    images: Path | list[Path] | None = None  # several DSB2018-layout folders train together
    masks: Path | None = None
    project: Path | None = None
    base: str | None = None  # model name or folder to fine-tune; None trains from scratch
    epochs: int | None = None
    minutes: float | None = None
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    keep_checkpoint: bool = False  # keep checkpoint.pt after a run that ended by itself
    # Architecture of a model trained from scratch (ignored when fine-tuning a base).
    width: int = 16
    depth: int = 4
    channels: int | None = None  # from scratch: 1; with a base: the base's, or widened to this
    distance_head: bool = True
    # Optimisation
    batch_size: int = 8
    crop_size: int | None = None  # None: the recipe's (SCRATCH_ or FINE_TUNE_CROP_SIZE)
    crops_per_epoch: int | None = None  # default: 8 per training image, at least 64
    learning_rate: float | None = None  # None: the recipe's (SCRATCH_ or FINE_TUNE_LEARNING_RATE)
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.03
    boundary_weight: float = 3.0
    grad_clip: float = 1.0
    # Epochs without a val AP gain before stopping; 0: never. None: the recipe's, which never stops
    # early within a time budget (the best epoch is kept anyway) and after 20 epochs otherwise.
    patience: int | None = None
    validation_fraction: float = 0.1
    # Images whose name hashes below this percentage are never used: they are a test set
    # kept aside for the model card (see data.heldout_by_hash).
    holdout_hash_percent: float = 0.0
    threads: int | None = None
    # DataLoader processes that cut and augment crops; None: none on the CPU (the two cores
    # train), several on a GPU, which otherwise waits for crops most of the time.
    workers: int | None = None
    # Crops are shared between image modalities (fluorescence, stained, brightfield) by the
    # square root of their image counts, so a rare modality is not drowned (data.crop_weights).
    balance_modalities: bool = False
    tune_thresholds: bool = True
    # U-Net arithmetic on a CPU: "auto" is bfloat16 where the processor has it natively (about
    # 2.7x the steps per minute; seggui.ml.precision), else float32. CUDA: float16 mixed precision.
    precision: str = "auto"
    # Resize factor of the images before the network; None measures the cells (seggui.ml.scale).
    input_scale: float | None = None
    name: str | None = None
    extra: dict = field(default_factory=dict)

    def with_recipe(self) -> "TrainConfig":
        """A copy with every option left to the recipe (None) filled in."""
        from dataclasses import replace

        rate = self.learning_rate
        if rate is None:
            rate = FINE_TUNE_LEARNING_RATE if self.base else SCRATCH_LEARNING_RATE
        crop = self.crop_size
        if crop is None:
            crop = FINE_TUNE_CROP_SIZE if self.base else SCRATCH_CROP_SIZE
        patience = self.patience
        if patience is None:
            patience = 0 if self.minutes else EPOCHS_PATIENCE
        return replace(self, learning_rate=rate, crop_size=crop, patience=patience, extra=dict(self.extra))

    def to_json(self) -> dict:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, (list, tuple)) and value and isinstance(value[0], Path):
                data[key] = [str(v) for v in value]
        return data
