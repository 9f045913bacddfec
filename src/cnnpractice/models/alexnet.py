"""AlexNet-style CNNs of the small-datasets study, with addressable conv blocks.

The talk trains two architectures on small datasets, end to end and greedily
(one conv block at a time):

* ``alexnet`` -- exactly the talk's layer table (Krizhevsky et al. 2012 without
  the two-GPU grouping), 227x227 input:

  ========  ============  ===========  ========  ==============================
  block     conv          channels     output    then
  ========  ============  ===========  ========  ==============================
  conv1     11x11 / 4 / 0  96          55x55     ReLU, LRN, max-pool 3x3/2 -> 27
  conv2     5x5 / 1 / 2    256         27x27     ReLU, LRN, max-pool 3x3/2 -> 13
  conv3     3x3 / 1 / 1    384         13x13     ReLU
  conv4     3x3 / 1 / 1    384         13x13     ReLU
  conv5     3x3 / 1 / 1    256         13x13     ReLU, max-pool 3x3/2 -> 6
  head      fc 4096 (ReLU, dropout), fc 4096 (ReLU), fc n_classes
  ========  ============  ===========  ========  ==============================

* ``alexnet_simple`` -- our reduced variant (the talk does not list it): the
  same five blocks with half the filters (48, 128, 192, 192, 128) and a head of
  one fully connected layer (dropout, then fc n_classes). It has 2.4 % of
  AlexNet's parameters (1.4 M with 102 classes at 227 px, against 58.7 M), which
  is what "simple" buys on a few thousand images.

``geometry="small"`` scales the convolutions for small inputs (28x28
Fashion-MNIST up to ~64 px) so that the five blocks still fit: conv1 becomes
5x5/1/2 and conv2 3x3/1/1, everything else (LRN, the overlapping 3x3/2
max-pools, conv3-5) stays. At 28 px the pooled sizes are 13, 6 and 2 (instead
of 27, 13 and 6). ``geometry="auto"`` picks ``imagenet`` for inputs of
``AUTO_IMAGENET_FROM`` (128) px or more and ``small`` below, so one
architecture setting serves 28 px and 227 px datasets. ``width`` multiplies every channel count and the hidden fc
sizes (``width=0.25`` gives a CPU-sized AlexNet).

Greedy layer-wise training builds the network with ``n_blocks=k`` (blocks 1..k
and a fresh head on top of block k) and ``frozen_blocks=k-1``. Every head first
average-pools its input to the spatial size that block 5's pool gives (6x6 at
227 px), so the heads of shallow networks stay as small as the full network's
head (on the full network that pooling is the identity, as in the table).

Shapes: input (batch, in_channels, S, S) -> logits (batch, n_classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

VARIANTS = {
    # name: (channels of conv1..conv5, hidden fc sizes, dropout after the first fc)
    "alexnet": ((96, 256, 384, 384, 256), (4096, 4096)),
    "alexnet_simple": ((48, 128, 192, 192, 128), ()),
}
GEOMETRIES = {
    # name: (kernel, stride, padding) of conv1..conv5
    "imagenet": ((11, 4, 0), (5, 1, 2), (3, 1, 1), (3, 1, 1), (3, 1, 1)),
    "small": ((5, 1, 2), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1)),
}
AUTO_IMAGENET_FROM = 128
# Which blocks end with local response normalisation and with a 3x3/2 max-pool.
LRN_AFTER = (True, True, False, False, False)
POOL_AFTER = (True, True, False, False, True)
N_BLOCKS = 5


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _sizes(geometry: str, input_size: int) -> list[int]:
    sizes, size = [], input_size
    for (kernel, stride, padding), pool in zip(GEOMETRIES[geometry], POOL_AFTER):
        size = _out_size(size, kernel, stride, padding)
        if pool:
            size = _out_size(size, 3, 2, 0)
        sizes.append(size)
    return sizes


def block_output_sizes(geometry: str, input_size: int) -> list[int]:
    """Spatial side after each of the five blocks (after its pool, if any).

    >>> block_output_sizes("imagenet", 227)
    [27, 13, 13, 13, 6]
    >>> block_output_sizes("small", 28)
    [13, 6, 6, 6, 2]
    """
    if geometry not in GEOMETRIES:
        raise ValueError(f"unknown geometry {geometry!r}; expected one of {sorted(GEOMETRIES)}")
    sizes = _sizes(geometry, input_size)
    if min(sizes) < 1:
        smallest = next(s for s in range(1, 4096) if min(_sizes(geometry, s)) >= 1)
        raise ValueError(
            f"input of {input_size} px is too small for geometry {geometry!r}: "
            f"the five blocks need at least {smallest} px"
        )
    return sizes


def _channel_window_sum(s: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
    """``out[:, o] = sum_c band[o, c] * s[:, c]`` for (N, C, H, W) ``s``, in ``s``'s layout.

    One matrix product without copies: (N*H*W, C) @ band^T for channels-last tensors,
    band @ (N, C, H*W) for contiguous ones.
    """
    n, c, h, w = s.shape
    if s.is_contiguous(memory_format=torch.channels_last) and not s.is_contiguous():
        flat = s.permute(0, 2, 3, 1).reshape(n * h * w, c)
        return torch.mm(flat, band.t()).view(n, h, w, c).permute(0, 3, 1, 2)
    return torch.matmul(band, s.reshape(n, c, h * w)).view(n, c, h, w)


class _LRNFunction(torch.autograd.Function):
    """LRN forward and a hand-written backward that keeps three tensors (x, d^-beta,
    d^-(beta+1)) instead of autograd's chain of intermediates.

    With ``d_c = k + alpha/size * sum_{c' in window(c)} x_{c'}^2`` and ``y_c = x_c d_c^-beta``:
    ``dL/dx_j = g_j d_j^-beta - 2 beta x_j * sum_{c: j in window(c)} (alpha/size) g_c x_c d_c^-(beta+1)``,
    the last sum being the transposed window. Half and bfloat16 inputs are computed in
    float32 (autocast off), then cast back.
    """

    @staticmethod
    def forward(ctx, x, size: int, alpha: float, beta: float, k: float):
        dtype = x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float() if dtype in (torch.float16, torch.bfloat16) else x
            channels = torch.arange(x.shape[1], device=x.device)
            offset = channels[None, :] - channels[:, None]  # [out, in]: in - out
            band = ((offset >= -(size // 2)) & (offset <= (size - 1) // 2)).to(x.dtype) * (alpha / size)
            d = _channel_window_sum(x * x, band).add_(k)
            # d^-0.75 as 1/sqrt(d^1.5): two cheap instructions instead of exp(log)
            r = torch.rsqrt(d * d.sqrt()) if beta == 0.75 else d.pow(-beta)
            y = x * r
            ctx.save_for_backward(x, r, r / d, band)
        ctx.beta, ctx.dtype = beta, dtype
        return y.to(dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, r, q, band = ctx.saved_tensors
        with torch.autocast(device_type=x.device.type, enabled=False):
            grad = grad.to(x.dtype)
            window = _channel_window_sum((grad * x).mul_(q), band.t().contiguous())
            dx = (grad * r).addcmul_(x, window, value=-2.0 * ctx.beta)
        return dx.to(ctx.dtype), None, None, None, None


class ChannelLRN(nn.Module):
    """Local response normalisation across channels, as ``nn.LocalResponseNorm``.

    ``y_c = x_c / (k + alpha / size * sum_{c' in window(c)} x_{c'}^2) ** beta`` with
    the window ``c - size//2 .. c + (size-1)//2`` (zero beyond the edges), exactly
    PyTorch's definition. The window sums are one banded (C x C) matrix product
    instead of PyTorch's padded 3D average pool, in the input's memory layout, and
    the backward pass is written out (:class:`_LRNFunction`): on this project's CPU
    runs that made AlexNet's LRN layers several times faster than PyTorch's (LRN had
    been 40 % of AlexNet's training step) and they keep less memory for the backward.

    Shapes: (batch, C, H, W) -> (batch, C, H, W).
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _LRNFunction.apply(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class AlexNetStyle(nn.Module):
    """An AlexNet-style classifier whose conv blocks are ``self.blocks[0..n_blocks-1]``.

    Parameters
    ----------
    in_channels : channels of the input images (1 gray, 3 RGB).
    n_classes : number of output logits.
    variant : ``"alexnet"`` (the talk's table) or ``"alexnet_simple"`` (see module doc).
    geometry : ``"imagenet"`` (227 px, the talk's kernels), ``"small"`` (28-64 px) or
        ``"auto"`` (``imagenet`` from 128 px up, else ``small``).
    input_size : side of the (square) input images; checked against the geometry.
    width : multiplier of every channel count and hidden fc size (1.0 = the table).
    n_blocks : how many conv blocks to build (1..5); the head sits on the last.
    frozen_blocks : the first ``frozen_blocks`` blocks get ``requires_grad=False``
        and stay in eval mode (greedy layer-wise training).
    dropout : dropout probability in the head.

    Each block is ``nn.Sequential(conv, ReLU[, LRN][, max-pool])``; the head is
    ``nn.Sequential(AdaptiveAvgPool2d(p), Flatten, [fc, ReLU, (Dropout)]..., fc)``.
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        variant: str = "alexnet",
        geometry: str = "imagenet",
        input_size: int = 227,
        width: float = 1.0,
        n_blocks: int = N_BLOCKS,
        frozen_blocks: int = 0,
        dropout: float = 0.5,
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(VARIANTS)}")
        if not 1 <= n_blocks <= N_BLOCKS:
            raise ValueError(f"n_blocks must be in 1..{N_BLOCKS}, got {n_blocks}")
        if not 0 <= frozen_blocks < n_blocks:
            raise ValueError(f"frozen_blocks must be in 0..n_blocks-1 ({n_blocks - 1}), got {frozen_blocks}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if geometry == "auto":
            geometry = "imagenet" if input_size >= AUTO_IMAGENET_FROM else "small"
        channels, hidden = VARIANTS[variant]
        channels = [max(1, round(c * width)) for c in channels]
        hidden = [max(1, round(h * width)) for h in hidden]
        head_pool = block_output_sizes(geometry, input_size)[-1]
        self.n_blocks, self.frozen_blocks = n_blocks, frozen_blocks
        self.channels = channels[:n_blocks]

        blocks, prev = [], in_channels
        for i in range(n_blocks):
            kernel, stride, padding = GEOMETRIES[geometry][i]
            layers: list[nn.Module] = [
                nn.Conv2d(prev, channels[i], kernel_size=kernel, stride=stride, padding=padding),
                nn.ReLU(inplace=True),
            ]
            if LRN_AFTER[i]:
                layers.append(ChannelLRN(size=5, alpha=1e-4, beta=0.75, k=2.0))
            if POOL_AFTER[i]:
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
            blocks.append(nn.Sequential(*layers))
            prev = channels[i]
        self.blocks = nn.ModuleList(blocks)

        head: list[nn.Module] = [nn.AdaptiveAvgPool2d(head_pool), nn.Flatten()]
        features = prev * head_pool * head_pool
        for j, size in enumerate(hidden):
            head += [nn.Linear(features, size), nn.ReLU(inplace=True)]
            if j == 0:
                head.append(nn.Dropout(dropout))
            features = size
        if not hidden:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(features, n_classes))
        self.head = nn.Sequential(*head)

        for block in self.blocks[:frozen_blocks]:
            for p in block.parameters():
                p.requires_grad_(False)
        self.train()

    def train(self, mode: bool = True) -> AlexNetStyle:
        """Like ``nn.Module.train``, but frozen blocks always stay in eval mode."""
        super().train(mode)
        for block in self.blocks[: self.frozen_blocks]:
            block.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    @torch.no_grad()
    def block_features(self, x: torch.Tensor, blocks: Sequence[int] | None = None) -> dict[int, torch.Tensor]:
        """Global-average-pooled activations of the given blocks (1-based; all by default).

        Returns ``{block: (batch, channels_of_block)}``, computed in one pass.
        """
        wanted = set(range(1, self.n_blocks + 1) if blocks is None else blocks)
        bad = wanted - set(range(1, self.n_blocks + 1))
        if bad:
            raise ValueError(f"blocks {sorted(bad)} do not exist (this network has {self.n_blocks})")
        out = {}
        for i, block in enumerate(self.blocks, start=1):
            if i > max(wanted):
                break
            x = block(x)
            if i in wanted:
                out[i] = x.mean(dim=(2, 3))
        return out
