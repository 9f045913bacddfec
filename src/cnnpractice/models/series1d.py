"""The 1D convolutional baselines of Wang, Yan & Oates (2017), "Time series classification
from scratch with deep neural networks: a strong baseline" (IJCNN 2017), on the raw series.

* :class:`FCN` -- three convolution blocks (conv, batch norm, ReLU) of 128, 256 and 128
  filters with kernels 8, 5 and 3, global average pooling over time, a linear layer.
* :class:`ResNet1D` -- three residual blocks of 64, 128 and 128 filters; each block is
  three convolutions (kernels 8, 5, 3; batch norm, ReLU after the first two) whose sum
  with the shortcut (a 1x1 convolution + batch norm where the width changes, batch norm
  alone where it does not, as in the authors' code and hfawaz/dl-4-tsc) passes a ReLU;
  global average pooling, a linear layer.

Convolutions use stride 1 and "same" padding (even kernels: one more zero on the right,
as Keras pads), so the series keeps its length until the pooling. ``widths`` scales the
filters (the published widths are the defaults); the kernels are the published ones.
The softmax of the papers is the cross-entropy loss of the training module.

Shapes: input (batch, length) or (batch, channels, length) -> logits (batch, n_classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

KERNELS = (8, 5, 3)


def _check_widths(widths: Sequence[int], name: str) -> list[int]:
    widths = [int(w) for w in widths]
    if len(widths) != len(KERNELS) or min(widths) < 1:
        raise ValueError(f"{name}: widths must be {len(KERNELS)} positive filter counts, got {list(widths)}")
    return widths


def _as_channels(x: torch.Tensor) -> torch.Tensor:
    """(batch, length) -> (batch, 1, length); (batch, channels, length) unchanged."""
    return x.unsqueeze(1) if x.dim() == 2 else x


def conv_bn(in_channels: int, out_channels: int, kernel: int, relu: bool = True) -> nn.Sequential:
    """Zero padding to keep the length ((k - 1) // 2 left, k // 2 right, as Keras's "same"),
    Conv1d (stride 1, no bias: the batch norm has one), batch norm, ReLU."""
    layers = [
        nn.ConstantPad1d(((kernel - 1) // 2, kernel // 2), 0.0),
        nn.Conv1d(in_channels, out_channels, kernel, bias=False),
        nn.BatchNorm1d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class FCN(nn.Module):
    """Fully convolutional network of Wang, Yan & Oates (2017).

    Parameters
    ----------
    n_classes : number of output logits.
    widths : filters of the three blocks (published: 128, 256, 128).
    in_channels : variables per time step (1 for univariate series).
    """

    def __init__(self, n_classes: int, widths: Sequence[int] = (128, 256, 128), in_channels: int = 1):
        super().__init__()
        widths = _check_widths(widths, "FCN")
        blocks, prev = [], in_channels
        for width, kernel in zip(widths, KERNELS):
            blocks.append(conv_bn(prev, width, kernel))
            prev = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(prev, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(_as_channels(x)).mean(dim=2))


class ResidualBlock(nn.Module):
    """Three convolutions (kernels 8, 5, 3) plus a shortcut, then ReLU (one ResNet block)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        k1, k2, k3 = KERNELS
        self.body = nn.Sequential(
            conv_bn(in_channels, out_channels, k1),
            conv_bn(out_channels, out_channels, k2),
            conv_bn(out_channels, out_channels, k3, relu=False),
        )
        if in_channels == out_channels:
            self.shortcut = nn.BatchNorm1d(out_channels)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, 1, bias=False), nn.BatchNorm1d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet1D(nn.Module):
    """Residual network of Wang, Yan & Oates (2017).

    Parameters
    ----------
    n_classes : number of output logits.
    widths : filters of the three residual blocks (published: 64, 128, 128).
    in_channels : variables per time step (1 for univariate series).
    """

    def __init__(self, n_classes: int, widths: Sequence[int] = (64, 128, 128), in_channels: int = 1):
        super().__init__()
        widths = _check_widths(widths, "ResNet1D")
        blocks, prev = [], in_channels
        for width in widths:
            blocks.append(ResidualBlock(prev, width))
            prev = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(prev, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(_as_channels(x)).mean(dim=2))
