"""The shared download rules (``rules/data.smk``) that belong to no single study, as functions
of paths and values (``scripts/<rule>.py`` calls ``stages.<rule>``).

=====================  ==============================================================
rule                   work
=====================  ==============================================================
fetch_torch_weights    :func:`.torch_weights.fetch_weights`: one torchvision weights file
                       into the workflow's torch cache (``resources/torch``)
=====================  ==============================================================

The study-specific downloads enter through their study's ``stages`` module (``fetch_ucr``:
time series; ``fetch_smalldata``; ``fetch_cifar100``, ``prepare_wordnet``,
``prepare_imagenet``: semantic; ``fetch_oasis``, ``fetch_brain_atlas``: brain), and all go
through :class:`cnnpractice.data.downloads.Downloads`.
"""

from __future__ import annotations

from pathlib import Path


def fetch_torch_weights(
    *, url: str, torch_home: str | Path, downloads: dict | None = None, downloads_dir: str | None = None
) -> dict:
    """Download one torchvision weights file (``url``) into ``torch_home/hub/checkpoints/``;
    ``downloads``: the config's section (mirror, checksums)."""
    from cnnpractice.data.downloads import Downloads
    from cnnpractice.data.torch_weights import fetch_weights

    return fetch_weights(url, torch_home, Downloads.from_config(downloads, "torchvision_weights", downloads_dir))
