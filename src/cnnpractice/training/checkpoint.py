"""The trained network of a workflow checkpoint, without importing Lightning.

Rules that only *use* a trained network (interpretation, nulls, feature extraction) need
its ``nn.Module``, not the training logic. ``import pytorch_lightning`` costs about 3 CPU
seconds on top of torch here (it imports torchmetrics, which imports torchvision, torch's
compiler and scipy.signal), paid once per job; this reads the same file with torch alone.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn


def load_net(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """The network of a checkpoint written by :func:`cnnpractice.training.runner.fit_and_test`.

    The same weights as ``ClassificationModule.from_checkpoint(path).net``: the
    architecture is rebuilt from the ``model_spec`` the module saved among its
    hyperparameters, and the module's ``net.*`` parameters are loaded strictly.
    Returned in training mode, as Lightning returns it.

    Raises
    ------
    ValueError
        When the checkpoint has no ``model_spec`` (the module was given a ready network)
        or holds weights that are not the network's (``RegressionModule`` keeps its
        target scaling beside the network: rebuild it with ``from_checkpoint``).
    """
    from cnnpractice.models import build_model

    path = Path(path)
    # tensors and plain values only: a workflow checkpoint holds nothing else
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    spec = ckpt.get("hyper_parameters", {}).get("model_spec")
    if spec is None:
        raise ValueError(f"{path}: no model_spec among the checkpoint's hyper_parameters; cannot rebuild the network")
    state = ckpt.get("state_dict", {})
    other = sorted(k for k in state if not k.startswith("net."))
    if other:
        raise ValueError(f"{path}: weights outside the network ({other[:3]}...); expected only net.* keys")
    net = build_model(spec)
    net.load_state_dict({k[len("net.") :]: v for k, v in state.items()}, strict=True)
    return net.to(map_location)
