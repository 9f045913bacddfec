"""The 2D CNN of the brain MRI study (the talk's "CNN for Alzheimer's detection").

The first layer is the one the study interprets: a stride-1 convolution with "same"
padding followed by its ReLU, so that every filter's activation map lines up pixel for
pixel with the input slice and can be stacked back into a brain volume
(:mod:`cnnpractice.brain.interpret`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from .timeseries import conv_block


class BrainCNN(nn.Module):
    """First layer (k x k conv, stride 1, same padding, ReLU), then pooled conv blocks, GAP, linear.

    Parameters
    ----------
    in_channels : channels of the slices (1 for MRI).
    n_classes : number of output logits.
    first_filters : filters of the first (interpreted) layer; the talk's network had 60.
    first_kernel : odd kernel size of the first layer.
    widths : output channels of the later blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool);
        the first layer is pooled too, so the input side must be at least
        ``2 ** (len(widths) + 1)`` pixels.
    dropout : dropout before the linear layer.
    head : ``"flatten"`` (default) feeds the last block's whole map to the linear layer, so
        the classifier knows *where* a feature fires: on aligned brains the location is the
        information (a darker hippocampus, not darkness anywhere). ``"gap"`` averages each
        channel over the plane first (position-free, fewer weights). ``flatten`` needs the
        input size: ``input_size``.
    input_size : side S of the input slices (for ``head="flatten"``).

    Shapes: input (batch, in_channels, S, S) -> logits (batch, n_classes);
    :meth:`first_layer`: (batch, in_channels, S, S) -> (batch, first_filters, S, S).
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 2,
        first_filters: int = 16,
        first_kernel: int = 5,
        widths: Sequence[int] = (32, 64),
        dropout: float = 0.3,
        head: str = "flatten",
        input_size: int | None = None,
    ):
        super().__init__()
        if head not in ("flatten", "gap"):
            raise ValueError(f"BrainCNN: head must be 'flatten' or 'gap', got {head!r}")
        if head == "flatten" and not input_size:
            raise ValueError("BrainCNN: head 'flatten' needs input_size (the slice side)")
        if first_kernel % 2 != 1:
            raise ValueError(f"BrainCNN: first_kernel must be odd (same padding), got {first_kernel}")
        self.conv1 = nn.Conv2d(in_channels, first_filters, kernel_size=first_kernel, padding=first_kernel // 2)
        self.after_first = nn.Sequential(nn.BatchNorm2d(first_filters), nn.MaxPool2d(2))
        blocks, prev = [], first_filters
        for width in widths:
            blocks.append(conv_block(prev, width))
            prev = width
        self.blocks = nn.Sequential(*blocks)
        self.flatten = head == "flatten"
        features = prev * (int(input_size) // 2 ** (len(widths) + 1)) ** 2 if self.flatten else prev
        if features == 0:
            raise ValueError(f"BrainCNN: input_size {input_size} is too small for {len(widths) + 1} poolings")
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, n_classes))

    def first_layer(self, x: torch.Tensor) -> torch.Tensor:
        """The interpreted activations: ReLU(conv1(x)), the same size as ``x``."""
        return torch.relu(self.conv1(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.blocks(self.after_first(self.first_layer(x)))
        # mean over the plane instead of AdaptiveAvgPool2d: deterministic on CUDA too
        return self.head(z.flatten(1) if self.flatten else z.mean(dim=(2, 3)))
