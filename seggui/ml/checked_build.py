"""Building a network only once its card and its weights are known to agree.

A card's architecture decides how much memory the network takes, and a few bytes of card can
ask for gigabytes. So the network is first built on torch's "meta" device, which allocates
nothing, and its parameter count and state-dict keys and shapes are compared with the
weights; only a network that fits them, within a parameter budget, is built for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from seggui.core.errors import ModelError

# Ten times the largest network seggui ships or fine-tunes (Mask R-CNN R50-FPN, ~44M).
PARAMETER_BUDGET = 200_000_000


def _mismatches(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> list[str]:
    problems = []
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing:
        problems.append(f"{len(missing)} tensors missing, e.g. {missing[0]!r}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors, e.g. {unexpected[0]!r}")
    for key, tensor in expected.items():
        if key in state and tuple(state[key].shape) != tuple(tensor.shape):
            problems.append(f"{key!r} is {tuple(state[key].shape)} in the weights but "
                            f"{tuple(tensor.shape)} for the card")
            break
    return problems


def build_checked(factory: Callable[[], torch.nn.Module], state: dict[str, torch.Tensor],
                  path: str | Path | None, what: str) -> torch.nn.Module:
    """factory() built on the meta device, checked against `state`, then built and loaded.

    Raises ModelError naming `path` when the network would exceed the parameter budget or
    the weights do not fit it; `what` names the architecture in the message.
    """
    try:
        with torch.device("meta"):
            skeleton = factory()
    except (RuntimeError, ValueError, TypeError) as error:
        raise ModelError(f"the card describes no buildable {what} ({_first_line(error)})", path) from None
    parameters = sum(p.numel() for p in skeleton.parameters())
    if parameters > PARAMETER_BUDGET:
        raise ModelError(f"the card's {what} would have {parameters:,} parameters, above the limit of "
                         f"{PARAMETER_BUDGET:,}", path)
    problems = _mismatches(skeleton.state_dict(), state)
    if problems:
        raise ModelError(f"weights do not match the card's {what}: " + "; ".join(problems), path)
    try:
        model = factory()
        model.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError) as error:  # e.g. a dtype that cannot be copied
        raise ModelError(f"weights do not match the card's {what} ({_first_line(error)})", path) from None
    return model


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
