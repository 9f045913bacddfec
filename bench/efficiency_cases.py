"""The networks that bench/training_efficiency.py times: each study's main network at the
sizes of config/config.yaml (``default``) and config/paper.yaml (``paper``).

tests/test_bench.py checks these sizes against the two config files.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One network at one size: its model spec, one example's shape and the batch size."""

    network: str
    size: str
    spec: dict = field(hash=False)
    example: tuple[int, ...]
    batch: int
    n_classes: int

    @property
    def label(self) -> str:
        return f"{self.network}/{self.size}"


def _alexnet(variant: str, paper: bool) -> dict:
    # smalldata.architectures.<variant>.params; Fashion-MNIST 28 px gray (default) or
    # Flowers-102 227 px RGB (paper)
    if paper:
        params = {"geometry": "auto", "width": 1.0, "in_channels": 3, "n_classes": 102, "input_size": 227}
    else:
        width = 0.125 if variant == "alexnet" else 0.25
        params = {"geometry": "small", "width": width, "in_channels": 1, "n_classes": 10, "input_size": 28}
    return {"name": "alexnet", "variant": variant, "dropout": 0.5, **params}


# The sizes of config/config.yaml (default) and config/paper.yaml (paper); tests/test_bench.py
# checks them against those files. Time series: the 3-channel stack image (the widest input).
CASES = [
    Case("alexnet", "default", _alexnet("alexnet", False), (1, 28, 28), 32, 10),
    Case("alexnet", "paper", _alexnet("alexnet", True), (3, 227, 227), 64, 102),
    Case("alexnet_simple", "default", _alexnet("alexnet_simple", False), (1, 28, 28), 32, 10),
    Case("alexnet_simple", "paper", _alexnet("alexnet_simple", True), (3, 227, 227), 64, 102),
    Case(
        "timeseries_cnn",
        "default",
        {"name": "cnn", "in_channels": 3, "n_classes": 5, "widths": [16, 32, 64], "dropout": 0.2},
        (3, 32, 32),
        16,
        5,
    ),
    Case(
        "timeseries_cnn",
        "paper",
        {"name": "cnn", "in_channels": 3, "n_classes": 5, "widths": [32, 64, 128], "dropout": 0.2},
        (3, 64, 64),
        32,
        5,
    ),
    Case(
        "vgg16",
        "default",
        {"name": "pretrained", "arch": "vgg16", "weights": None, "in_channels": 3, "n_classes": 5, "input_size": None},
        (3, 32, 32),
        16,
        5,
    ),
    Case(
        "vgg16",
        "paper",
        {"name": "pretrained", "arch": "vgg16", "weights": None, "in_channels": 3, "n_classes": 5, "input_size": 224},
        (3, 64, 64),
        32,
        5,
    ),
    Case(
        "brain_cnn",
        "default",
        {"name": "brain_cnn", "in_channels": 1, "n_classes": 2, "first_filters": 16, "first_kernel": 5},
        (1, 32, 32),
        32,
        2,
    ),
    Case(
        "brain_cnn",
        "paper",
        {"name": "brain_cnn", "in_channels": 1, "n_classes": 2, "first_filters": 60, "first_kernel": 7},
        (1, 176, 176),
        64,
        2,
    ),
    Case(
        "elves_cnn",
        "default",
        {"name": "elves_cnn", "in_shape": [2, 25, 11, 60], "n_outputs": 3, "widths": [32, 64, 96], "hidden": 128},
        (2, 25, 11, 60),
        32,
        3,
    ),
    Case(
        "elves_cnn",
        "paper",
        {"name": "elves_cnn", "in_shape": [2, 50, 22, 120], "n_outputs": 3, "widths": [64, 128, 192], "hidden": 256},
        (2, 50, 22, 120),
        64,
        3,
    ),
]
for _case in CASES:  # the keys every case shares with its config section
    if _case.network == "brain_cnn":
        widths = [16, 32] if _case.size == "default" else [64, 128, 256]
        _case.spec.update(widths=widths, dropout=0.5, head="flatten", input_size=_case.example[-1])
    if _case.network == "vgg16":  # ImageNet weights or not: the same arithmetic
        _case.spec.update(freeze_features=False)
    if _case.network == "elves_cnn":
        pooled = [2, 6] if _case.size == "default" else [3, 10]
        _case.spec.update(mode="channels", pooled=pooled, dropout=0.0, coords=False)
NETWORKS = list(dict.fromkeys(c.network for c in CASES))
QUICK = [c for c in CASES if c.size == "default" or c.network == "alexnet"]
