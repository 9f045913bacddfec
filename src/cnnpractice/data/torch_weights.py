"""Pretrained torchvision weights, fetched once by the workflow into its own torch cache.

torchvision loads ``weights=IMAGENET1K_V1`` from ``$TORCH_HOME/hub/checkpoints/<file>``
and downloads the file there when it is missing. The workflow fetches every file its
config uses in one rule (on the machine that runs Snakemake: cluster nodes often have no
internet) into ``resources/torch/hub/checkpoints/`` and sets ``TORCH_HOME=resources/torch``
for every job, so a training or extraction job finds the file and never downloads.

* :data:`KNOWN`: (architecture, weights) -> URL for the weights the shipped configs use
  (the Snakefile resolves file names without importing torchvision, which costs seconds
  per Snakemake call); others are looked up in torchvision (:func:`weights_url`).
* :func:`fetch_weights`: one file, checked against the sha256 prefix its name carries
  (torch.hub's convention, ``<name>-<sha256 prefix>.pth``).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger("cnnpractice.data")

#: torchvision 0.2x's URLs (tests/test_data_torch_weights.py checks them against torchvision).
KNOWN = {
    ("alexnet", "IMAGENET1K_V1"): "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    ("googlenet", "IMAGENET1K_V1"): "https://download.pytorch.org/models/googlenet-1378be20.pth",
    ("resnet18", "IMAGENET1K_V1"): "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    ("vgg16", "IMAGENET1K_V1"): "https://download.pytorch.org/models/vgg16-397923af.pth",
}
_HASH = re.compile(r"-([a-f0-9]{8,})\.")  # torch.hub.HASH_REGEX, at least 8 digits


def weights_url(arch: str, weights: str) -> str:
    """The URL torchvision loads ``arch``'s ``weights`` from (ValueError naming both if none)."""
    if (arch, weights) in KNOWN:
        return KNOWN[(arch, weights)]
    import torchvision

    try:
        return torchvision.models.get_model_weights(arch)[weights].url
    except (ValueError, KeyError) as exc:
        raise ValueError(f"torchvision has no weights {weights!r} for model {arch!r} ({exc})") from exc


def weights_file(arch: str, weights: str) -> str:
    """The file name of ``arch``'s ``weights`` in torch's cache (``hub/checkpoints/<file>``)."""
    return weights_url(arch, weights).rsplit("/", 1)[-1]


def sha256_prefix(url: str) -> str | None:
    """The sha256 prefix torch.hub's file names carry (``resnet18-f37072fd.pth``), or None."""
    match = _HASH.search(url.rsplit("/", 1)[-1])
    return match.group(1) if match else None


def fetch_weights(url: str, torch_home: str | os.PathLike, downloads=None, *, timeout: float = 60.0) -> dict:
    """Download ``url`` into ``torch_home/hub/checkpoints/<file>`` (torchvision's cache layout).

    Checked against the sha256 prefix of its name (or a manifest entry replacing it, see
    :class:`cnnpractice.data.downloads.Downloads`); a file without one is recorded at its
    first download. A file already there is left alone (torch.hub trusts it too).
    """
    from cnnpractice.data.downloads import Downloads

    downloads = downloads or Downloads(dataset="torchvision_weights")
    target = Path(torch_home) / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    if target.is_file():
        log.info(f"{target}: present")
        return {"url": url, "path": str(target), "size": target.stat().st_size, "verified": []}
    info = downloads.fetch(url, target, timeout=timeout, sha256_prefix=sha256_prefix(url))
    log.info(f"{url} -> {target} ({info['size']:,} bytes, checked: {', '.join(info['verified']) or 'recorded'})")
    return {**info, "path": str(target)}


__all__ = ["KNOWN", "fetch_weights", "sha256_prefix", "weights_file", "weights_url"]
