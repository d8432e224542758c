"""Training and fine-tuning of U-Nets, shared by `seggui train` and the GUI.

`train(config, on_event)` is the single entry point; see trainer.py.
"""

from seggui.ml.training.config import TrainConfig


def train(config: TrainConfig, on_event=None, should_stop=None):
    """Run training; see seggui.ml.training.trainer.train."""
    from seggui.ml.training.trainer import train as _train

    return _train(config, on_event=on_event, should_stop=should_stop)


__all__ = ["TrainConfig", "train"]
