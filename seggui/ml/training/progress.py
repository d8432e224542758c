"""The end-of-epoch report shared by every training loop: ETA, events, early stopping."""

from __future__ import annotations


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
