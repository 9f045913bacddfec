"""Architectures of the time-series study: the talk's three contenders.

* :class:`ImageCNN` -- a small CNN trained from scratch on the 2D images of the
  series (the talk's "cnn").
* :class:`LSTMClassifier` -- an LSTM on the raw 1D series (the talk's "lstm").
* :class:`PretrainedCNN` -- a torchvision ImageNet CNN (VGG16 in the talk's
  "vgg") with its last layer replaced, fine-tuned on the images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv (same padding, no bias), batch norm, ReLU, 2x2 max-pool: halves the side."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class ImageCNN(nn.Module):
    """Conv blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool), global average pool, linear.

    Parameters
    ----------
    in_channels : channels of the input images (1 for one transform, 3 for a stack).
    n_classes : number of output logits.
    widths : output channels of each conv block; the input side must be at
        least ``2 ** len(widths)`` pixels.
    dropout : dropout before the linear layer.

    Shapes: input (batch, in_channels, S, S) -> logits (batch, n_classes).
    """

    def __init__(self, in_channels: int, n_classes: int, widths: Sequence[int] = (32, 64, 128), dropout: float = 0.2):
        super().__init__()
        if not widths:
            raise ValueError("ImageCNN: widths must name at least one conv block")
        blocks = []
        prev = in_channels
        for width in widths:
            blocks.append(conv_block(prev, width))
            prev = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(prev, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Global average pooling as a mean: unlike AdaptiveAvgPool2d's CUDA backward it
        # is deterministic, so `trainer.deterministic: true` also works on a GPU.
        return self.head(self.blocks(x).mean(dim=(2, 3)))


class LSTMClassifier(nn.Module):
    """LSTM over the raw series; the last time step's hidden state feeds a linear layer.

    Parameters
    ----------
    n_classes : number of output logits.
    hidden_size, num_layers, bidirectional, dropout : as in ``torch.nn.LSTM``
        (``dropout`` also applies before the linear layer).
    in_channels : variables per time step (1 for univariate series).
    window : time steps fed to the LSTM together: a univariate series of length L
        becomes ``ceil(L / window)`` steps of ``window`` values (zero-padded at the
        end). Shorter sequences are much easier for an LSTM to learn from.
    pooling : ``"last"`` classifies from the last time step's hidden state (the
        textbook LSTM classifier); ``"mean"`` from the mean of the hidden states
        over time, which gives gradients a short path to every step.

    Shapes: input (batch, length) or (batch, length, in_channels) -> (batch, n_classes).
    """

    def __init__(
        self,
        n_classes: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        in_channels: int = 1,
        pooling: str = "last",
        window: int = 1,
    ):
        super().__init__()
        if window < 1:
            raise ValueError(f"LSTMClassifier: window must be >= 1, got {window}")
        self.window = window
        if pooling not in ("last", "mean"):
            raise ValueError(f"LSTMClassifier: pooling must be 'last' or 'mean', got {pooling!r}")
        self.pooling = pooling
        self.lstm = nn.LSTM(
            in_channels * window,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        out = hidden_size * (2 if bidirectional else 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(out, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        if self.window > 1:
            pad = (-x.shape[1]) % self.window
            x = nn.functional.pad(x, (0, 0, 0, pad))
            x = x.reshape(x.shape[0], x.shape[1] // self.window, self.window * x.shape[2])
        outputs, (h, _) = self.lstm(x)
        if self.pooling == "mean":
            return self.head(outputs.mean(dim=1))
        if self.lstm.bidirectional:
            last = torch.cat([h[-2], h[-1]], dim=1)
        else:
            last = h[-1]
        return self.head(last)


def _replace_last_linear(model: nn.Module, n_classes: int) -> None:
    """Swap the final ``nn.Linear`` of a torchvision classifier for one with ``n_classes`` outputs."""
    parent, attr, last = None, None, None
    for module in model.modules():
        for child_name, child in module.named_children():
            if isinstance(child, nn.Linear):
                parent, attr, last = module, child_name, child
    if last is None:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to replace")
    setattr(parent, attr, nn.Linear(last.in_features, n_classes))


class PretrainedCNN(nn.Module):
    """A torchvision ImageNet classifier with a new last layer, for fine-tuning.

    Parameters
    ----------
    in_channels : channels of the input images. With 3 the images go straight in;
        otherwise a learned 1x1 convolution maps them to the 3 channels the
        network expects (initialised to replicate/average the channels).
    n_classes : number of output logits.
    arch : a torchvision classification model name (``vgg16``, ``resnet18``, ...).
    weights : torchvision weights name (``"IMAGENET1K_V1"``, ``"DEFAULT"``) or ``None``
        for random initialisation. Weights are downloaded by torchvision into
        ``$TORCH_HOME`` on first use (users' machines; not possible offline).
    freeze_features : train only the replaced last layer (and the channel adapter).
    input_size : if set, images are resized (bilinear) to this side before the network.

    Shapes: input (batch, in_channels, S, S) -> (batch, n_classes).
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        arch: str = "vgg16",
        weights: str | None = None,
        freeze_features: bool = False,
        input_size: int | None = None,
    ):
        super().__init__()
        import torchvision  # deferred: only this architecture needs it

        try:
            self.net = torchvision.models.get_model(arch, weights=weights)
        except ValueError as exc:
            raise ValueError(f"PretrainedCNN: unknown torchvision arch/weights {arch!r}/{weights!r}: {exc}") from exc
        if freeze_features:
            for p in self.net.parameters():
                p.requires_grad_(False)
        _replace_last_linear(self.net, n_classes)
        if in_channels == 3:
            self.adapter = nn.Identity()
        else:
            conv = nn.Conv2d(in_channels, 3, kernel_size=1, bias=False)
            nn.init.constant_(conv.weight, 1.0 / in_channels)
            self.adapter = conv
        self.input_size = input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.adapter(x)
        if self.input_size is not None and x.shape[-1] != self.input_size:
            x = nn.functional.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        return self.net(x)
