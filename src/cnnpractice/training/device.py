"""The device of the steps that run a network outside the Trainer (transforms, feature
extraction): one rule for every study, following the config's ``trainer.accelerator``."""

from __future__ import annotations


def choose_device(accelerator: str):
    """``cuda`` when ``accelerator`` is not ``cpu`` and a GPU is visible, else ``cpu``.

    The rules that call this reserve Snakemake's ``gpu`` resource the same way
    (``inference_resources()`` in ``rules/common.smk``), so a GPU they use is one the
    scheduler counted.
    """
    import torch

    return torch.device("cuda" if accelerator != "cpu" and torch.cuda.is_available() else "cpu")
