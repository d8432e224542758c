"""The end-of-epoch report shared by every training loop: ETA, events, early stopping; and
what becomes of checkpoint.pt when a run ends."""

from __future__ import annotations

from pathlib import Path


def report_epoch(emit, record: dict, *, epoch: int, start_epoch: int, epochs_limit: int | None,
                 elapsed: float, elapsed_before: float, budget_s: float, checkpoint_path,
                 best_epoch: int, best_ap: float, improved: bool, patience: int | None) -> bool:
    """Emit the `epoch` and `checkpoint` events; return True when early stopping is due."""
    if epochs_limit:
        eta = (epochs_limit - epoch) * (elapsed - elapsed_before) / max(1, epoch - start_epoch)
    else:
        eta = max(0.0, budget_s - elapsed)
    emit({"event": "epoch", **{k: v for k, v in record.items() if k != "base_metrics"}, "eta_s": round(eta, 1)})
    emit({"event": "checkpoint", "epoch": epoch, "path": str(checkpoint_path), "best_epoch": best_epoch,
          "best_val_ap50": best_ap, "improved": improved})
    return bool(patience) and epoch - best_epoch >= patience


def resume_from(checkpoint_path, config, device, model, optimizer, expected: dict) -> tuple:
    """Restore a run from its checkpoint when --resume asks for it.

    `expected` holds entries the checkpoint must match (architecture, and kind for
    torchvision models). Returns (start_epoch, step, best_ap, best_epoch, elapsed_before,
    history); a fresh run's values when not resuming.
    """
    import torch

    from seggui.core.errors import TrainingError
    from seggui.ml.safe_load import load_weights

    if not config.resume:
        return 0, 0, -1.0, -1, 0.0, []
    if not checkpoint_path.is_file():
        raise TrainingError("--resume given but there is no checkpoint to resume from", checkpoint_path)
    checkpoint = load_weights(checkpoint_path, device)
    if any(checkpoint.get(key) != value for key, value in expected.items()):
        raise TrainingError("checkpoint architecture differs from this run's; cannot resume", checkpoint_path)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng"])
    return (int(checkpoint["epoch"]), int(checkpoint["step"]), float(checkpoint["best_ap"]),
            int(checkpoint["best_epoch"]), float(checkpoint["elapsed_s"]), list(checkpoint["history"]))


def settle_checkpoint(checkpoint_path, stopped: str | None, keep: bool = False) -> str | None:
    """Keep checkpoint.pt (~20 MB for the bundled U-Net) only while the run can be resumed.

    A run stopped by a signal (SIGTERM: the GUI's Cancel, a scheduler's pre-emption) keeps it
    for `--resume`. A run that ended by itself (its epochs done, early stopping, its time
    budget spent: `--minutes` is the total over resumes, recorded in the card) is finished:
    weights.pt and card.json are the model, and the checkpoint goes unless `keep` (the CLI's
    --keep-checkpoint, to continue later with more epochs or minutes). Returns the path of a
    kept checkpoint, else None."""
    path = Path(checkpoint_path)
    if stopped == "signal" or keep:
        return str(path) if path.is_file() else None
    try:
        path.unlink(missing_ok=True)
    except OSError:  # a read-only or busy file: the model is fine, the space is not freed
        return str(path) if path.is_file() else None
    return None
