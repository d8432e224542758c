"""A plain U-Net: configurable depth and width, skip connections, any number of inputs.

Output channels are `classes` logits, plus one extra channel when `distance_head` is on:
a regression of the normalised distance to the cell boundary, which separates touching
nuclei far better than the boundary class alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    # BatchNorm works at the small batch sizes CPU training can afford (>= 4 crops).
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        classes: int = 3,
        depth: int = 4,
        width: int = 16,
        distance_head: bool = False,
    ):
        super().__init__()
        if depth < 1 or width < 1 or in_channels < 1 or classes < 1:
            raise ValueError("UNet depth, width, in_channels and classes must be positive")
        self.config = {
            "in_channels": in_channels,
            "classes": classes,
            "depth": depth,
            "width": width,
            "distance_head": distance_head,
        }
        widths = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList()
        previous = in_channels
        for level in range(depth):
            self.down.append(_conv_block(previous, widths[level]))
            previous = widths[level]
        self.bottom = _conv_block(previous, widths[depth])
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for level in reversed(range(depth)):
            self.up.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.merge.append(_conv_block(widths[level] * 2, widths[level]))
        self.head = nn.Conv2d(widths[0], classes + (1 if distance_head else 0), 1)

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this (one halving per level)."""
        return 2 ** self.config["depth"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = up(x)
            x = merge(torch.cat([x, skip], dim=1))
        return self.head(x)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def widen_input(state: dict, in_channels: int) -> dict:
    """A one-channel U-Net's weights for `in_channels` inputs, computing exactly the same.

    A one-channel model sees the mean of a colour image's planes; spreading its first
    filters evenly over the new planes (w / n each) gives the same output for every image,
    so fine-tuning starts from the base and learns from there what colour adds."""
    key = "down.0.0.weight"
    weight = state[key]
    if weight.shape[1] == in_channels:
        return state
    if weight.shape[1] != 1:
        raise ValueError(f"only a one-channel model can be widened, this one takes {weight.shape[1]}")
    widened = dict(state)
    widened[key] = weight.repeat(1, in_channels, 1, 1) / in_channels
    return widened
