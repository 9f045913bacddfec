"""CNN over FD movies (eyes, time bins, rows, columns) for the elves study.

Two ways to see time (``mode``):

* ``channels`` - time bins (of every eye) are the input channels of a 2D CNN over the
  camera image: cheap, and the first layer sees the whole time structure of a 3 x 3 patch.
* ``conv3d`` - 3D convolutions over (time, rows, columns), eyes as channels: translation
  equivariant in time too, at several times the cost.

Both end in adaptive average pooling to a small fixed grid (not a global average: where the
light is on the camera is what locates the lightning), a hidden layer and ``n_outputs``
(class logits, or standardised regression targets).

Registered as ``"elves_cnn"`` in :data:`cnnpractice.models.REGISTRY`, so model specs and
checkpoints can name it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

MODES = ("channels", "conv3d")


def _block(conv, norm, pool, c_in: int, c_out: int, pooling: bool) -> nn.Sequential:
    layers = [conv(c_in, c_out, kernel_size=3, padding=1, bias=False), norm(c_out), nn.ReLU(inplace=True)]
    if pooling:
        layers.append(pool(2, ceil_mode=True))
    return nn.Sequential(*layers)


class ElvesCNN(nn.Module):
    """A CNN over movies (N, eyes, T, rows, columns).

    Parameters
    ----------
    in_shape : (eyes, T, rows, columns) of one event.
    n_outputs : class count, or regression targets.
    mode : ``channels`` or ``conv3d`` (see the module docstring).
    widths : output channels of the conv blocks (3x3 or 3x3x3 conv, batch norm, ReLU,
        2x max-pool after every block but the last).
    hidden : width of the hidden fully connected layer.
    pooled : (rows, columns) of the adaptive average pooling before the head (conv3d
        pools time to 2 bins as well).
    dropout : dropout before each fully connected layer.
    coords : add two input channels holding each pixel's row and column (scaled to
        [-1, 1]), so the convolutions know where on the camera they are ("CoordConv").
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        n_outputs: int,
        mode: str = "channels",
        widths: Sequence[int] = (32, 64, 96),
        hidden: int = 128,
        pooled: Sequence[int] = (2, 6),
        dropout: float = 0.0,
        coords: bool = False,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if len(in_shape) != 4:
            raise ValueError(f"in_shape must be (eyes, T, rows, columns), got {tuple(in_shape)}")
        if not widths:
            raise ValueError("widths: at least one conv block is needed")
        self.in_shape, self.mode, self.coords = tuple(int(s) for s in in_shape), mode, bool(coords)
        eyes, steps, rows, cols = self.in_shape
        grid_rows, grid_cols = torch.meshgrid(torch.linspace(-1, 1, rows), torch.linspace(-1, 1, cols), indexing="ij")
        self.register_buffer("coordinates", torch.stack([grid_rows, grid_cols]), persistent=False)
        extra = 2 if self.coords else 0
        if mode == "channels":
            conv, norm, pool = nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d
            c_in, grid = eyes * steps + extra, tuple(pooled)
            self.pool = nn.AdaptiveAvgPool2d(grid)
        else:
            conv, norm, pool = nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d
            c_in, grid = eyes + extra, (2, *pooled)
            self.pool = nn.AdaptiveAvgPool3d(grid)
        blocks = []
        for i, width in enumerate(widths):
            blocks.append(_block(conv, norm, pool, c_in, int(width), pooling=i < len(widths) - 1))
            c_in = int(width)
        self.features = nn.Sequential(*blocks)
        flat = c_in * int(torch.tensor(grid).prod())
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(flat, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"expected movies (N, {', '.join(map(str, self.in_shape))}), got {tuple(x.shape)}")
        n = len(x)
        if self.mode == "channels":
            x = x.flatten(1, 2)  # (N, eyes * T, rows, columns)
            if self.coords:
                x = torch.cat([x, self.coordinates.expand(n, -1, -1, -1)], dim=1)
        elif self.coords:
            steps = x.shape[2]
            x = torch.cat([x, self.coordinates[:, None].expand(n, -1, steps, -1, -1)], dim=1)
        return self.head(self.pool(self.features(x)))
