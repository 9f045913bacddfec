"""Architectures as plain ``nn.Module``s, built by name from a spec.

A *model spec* is a plain dict ``{"name": ..., **kwargs}``; it is stored in every
checkpoint so a trained network can be rebuilt without the workflow's config.

The convolutional networks are built with their 4D weights in channels-last (NHWC)
memory layout (:data:`CHANNELS_LAST`, :func:`to_channels_last`). Convolutions then
return channels-last activations, so oneDNN's CPU convolutions, batch norm and pooling
run without layout conversions (and cuDNN uses tensor cores under autocast). Same
arithmetic, different summation order: outputs agree with the NCHW layout to float
rounding (tests/test_models_layout.py). Measured with ``bench/training_efficiency.py``
(one CPU thread, CPU seconds, so that other jobs on the machine do not count), training
steps at the default config's sizes ran 1.2x (AlexNet) to 1.8x (brain CNN) faster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from .alexnet import AlexNetStyle
from .brain import BrainCNN
from .elves import ElvesCNN
from .series1d import FCN, ResNet1D
from .timeseries import ImageCNN, LSTMClassifier, PretrainedCNN

REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "cnn": ImageCNN,
    "lstm": LSTMClassifier,
    "pretrained": PretrainedCNN,
    "fcn": FCN,
    "resnet1d": ResNet1D,
    "alexnet": AlexNetStyle,
    "elves_cnn": ElvesCNN,
    "brain_cnn": BrainCNN,
}

#: Registry names whose networks are built channels-last (see the module docstring).
CHANNELS_LAST = frozenset({"cnn", "pretrained", "alexnet", "elves_cnn", "brain_cnn"})


def _channels_last_strides(shape: torch.Size) -> tuple[int, int, int, int]:
    _, c, h, w = shape
    return (c * h * w, 1, w * c, c)


def _single_channel_as_channels_last(module: nn.Module, args: tuple) -> tuple | None:
    """Forward pre-hook: give a one-channel (N, 1, H, W) input channels-last strides.

    With one channel both layouts address the same memory, so this copies nothing (a
    view as (N, H, W, 1), permuted back), but PyTorch picks a convolution's layout from
    the strides: without it the first layer of a grey-image network would run NCHW
    (measured: the brain CNN's training step 1.8x slower than with it).
    """
    if not args or not isinstance(args[0], torch.Tensor):
        return None
    x = args[0]
    if x.dim() != 4 or x.shape[1] != 1:
        return None
    n, _, h, w = x.shape
    return (x.reshape(n, h, w, 1).permute(0, 3, 1, 2), *args[1:])


@torch.no_grad()
def to_channels_last(net: nn.Module) -> nn.Module:
    """Store ``net``'s 4D parameters and buffers channels-last (in place; returns ``net``).

    Unlike ``net.to(memory_format=torch.channels_last)`` this leaves tensors of other
    ranks alone (3D convolutions' 5D weights), so any network can be passed, and it sets
    the strides explicitly also where a size-1 dimension makes both layouts contiguous
    (one input channel, 1x1 kernels), which ``contiguous()`` would leave NCHW. A forward
    pre-hook does the same for one-channel inputs (:func:`_single_channel_as_channels_last`).
    """
    for tensor in [*net.parameters(), *net.buffers()]:
        if tensor.dim() == 4:
            strided = torch.empty_strided(
                tensor.shape, _channels_last_strides(tensor.shape), dtype=tensor.dtype, device=tensor.device
            )
            tensor.data = strided.copy_(tensor.data)
    net.register_forward_pre_hook(_single_channel_as_channels_last)
    return net


def build_model(spec: dict[str, Any]) -> nn.Module:
    """Build the architecture described by ``spec`` (``{"name": ..., **kwargs}``).

    Raises
    ------
    ValueError
        For an unknown name or keyword, naming it and what is accepted.
    """
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(REGISTRY)}")
    try:
        net = REGISTRY[name](**spec)
    except TypeError as exc:
        raise ValueError(f"model {name!r}: bad parameters {sorted(spec)}: {exc}") from exc
    return to_channels_last(net) if name in CHANNELS_LAST else net


__all__ = [
    "CHANNELS_LAST",
    "REGISTRY",
    "build_model",
    "to_channels_last",
    "AlexNetStyle",
    "BrainCNN",
    "ElvesCNN",
    "FCN",
    "ImageCNN",
    "LSTMClassifier",
    "PretrainedCNN",
    "ResNet1D",
]
