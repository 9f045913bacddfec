"""Architectures as plain ``nn.Module``s, built by name from a spec.

A *model spec* is a plain dict ``{"name": ..., **kwargs}``; it is stored in every
checkpoint so a trained network can be rebuilt without the workflow's config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
        return REGISTRY[name](**spec)
    except TypeError as exc:
        raise ValueError(f"model {name!r}: bad parameters {sorted(spec)}: {exc}") from exc


__all__ = [
    "REGISTRY",
    "build_model",
    "AlexNetStyle",
    "BrainCNN",
    "ElvesCNN",
    "FCN",
    "ImageCNN",
    "LSTMClassifier",
    "PretrainedCNN",
    "ResNet1D",
]
