"""Which arithmetic the network runs in: float32, or bfloat16 where the CPU computes it natively.

On a CPU with AMX or AVX-512 BF16 (Intel Sapphire Rapids and later, AMD Zen 4 and later),
oneDNN runs convolutions in bfloat16 about three times as fast as in float32: on this project's
2-core machine a U-Net training step of 8 crops of 256 px took 1,013 ms in float32 and 379 ms
under bfloat16 autocast, and a 1024x1024 forward pass 782 ms against 250 ms. Weights, the loss
and the optimiser stay float32 (autocast computes only the convolutions and matrix products in
bfloat16), so the saved model is the same kind of file either way. On a CPU without native
bfloat16 it would be emulated and slower, so "auto" keeps float32 there. CUDA keeps its float16
mixed precision. Accuracy under both is measured in README (Performance).
"""

from __future__ import annotations

import contextlib
import os

import torch

PRECISIONS = ("auto", "float32", "bfloat16")
# Set to float32 or bfloat16 to override "auto" everywhere (prediction, training, benchmarks).
ENVIRONMENT_VARIABLE = "SEGGUI_PRECISION"


def cpu_has_native_bfloat16() -> bool:
    """True where the processor has AMX tiles or AVX-512 BF16 instructions."""
    cpu = getattr(torch, "cpu", None)
    for check in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        probe = getattr(cpu, check, None)
        try:
            if probe is not None and probe():
                return True
        except Exception:  # an older torch without the probe: assume none
            continue
    return False


def resolve(asked: str | None, device: torch.device) -> str:
    """The precision that will run: "float32" or "bfloat16" on a CPU, "mixed" on CUDA.

    `asked` None or "auto" lets the environment variable, then the processor decide. A
    bfloat16 asked for on a CPU without native support still runs (slowly): it was asked for.
    """
    if device.type == "cuda":
        return "mixed"
    if device.type != "cpu":
        return "float32"
    choice = asked or "auto"
    source = "precision"
    if choice == "auto":
        choice = os.environ.get(ENVIRONMENT_VARIABLE, "auto").strip().lower() or "auto"
        source = f"{ENVIRONMENT_VARIABLE} (environment)"
    if choice not in PRECISIONS:
        raise ValueError(f"unknown {source} {choice!r} (use {', '.join(PRECISIONS)})")
    if choice == "auto":
        return "bfloat16" if cpu_has_native_bfloat16() else "float32"
    return choice


def autocast(device: torch.device, precision: str):
    """The autocast context for a resolved precision (see `resolve`)."""
    if precision == "mixed" and device.type == "cuda":
        return torch.autocast("cuda")
    if precision == "bfloat16" and device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
