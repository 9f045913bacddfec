"""The networks one semantic model is measured on: trained, and untrained twins.

"The network learned a taxonomy" needs the control "the pixels (and the architecture)
already contain it": the same architecture with a fresh, seeded initialisation, run
through the same pipeline (same images, same input standardisation, same layers).

* workflow models: one trained network per seed (the small-data study's or this study's
  checkpoints) and, per seed, the untrained network that training started from: the
  checkpoint's architecture rebuilt after ``torch.manual_seed(seed)``, exactly as the
  training runner builds it after ``seed_everything(seed)``; input standardisation as
  recorded by the trained twin;
* torchvision models: the pretrained network (one, named ``trained``) and untrained
  networks of the same architecture, seeded.

:func:`network_plan` lists them as ``{"name", "group", "seed"}`` (names
``trained_s<seed>``, ``untrained_s<seed>``); :func:`open_planned` loads one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def network_plan(
    kind: str, seeds: Sequence[int], ckpts: Mapping[int, str | Path] | None, untrained: bool
) -> list[dict[str, Any]]:
    """The networks of one model, trained first. ``ckpts``: seed -> checkpoint (workflow)."""
    if kind == "workflow":
        if not ckpts or sorted(int(s) for s in ckpts) != sorted(int(s) for s in seeds):
            raise ValueError(f"workflow networks need one checkpoint per seed {list(seeds)}, got {sorted(ckpts or {})}")
        plan = [{"name": f"trained_s{s}", "group": "trained", "seed": int(s)} for s in seeds]
    elif kind == "torchvision":
        plan = [{"name": "trained", "group": "trained", "seed": None}]
    else:
        raise ValueError(f"network kind must be workflow or torchvision, got {kind!r}")
    if untrained:
        plan += [{"name": f"untrained_s{s}", "group": "untrained", "seed": int(s)} for s in seeds]
    return plan


def untrained_workflow_network(ckpt: str | Path, seed: int):
    """(network in eval mode, normalisation) of the architecture stored in ``ckpt``, freshly
    initialised with ``seed`` (the state its training started from)."""
    import torch

    from cnnpractice.models import build_model
    from cnnpractice.semantic.sources import workflow_network

    _, normalization = workflow_network(ckpt)
    spec = torch.load(ckpt, map_location="cpu", weights_only=True)["hyper_parameters"]["model_spec"]
    torch.manual_seed(int(seed))
    return build_model(spec).eval(), normalization


def untrained_torchvision_network(arch: str, seed: int):
    """A torchvision ``arch`` with its own default initialisation, seeded (eval mode)."""
    import torch
    import torchvision

    torch.manual_seed(int(seed))
    # GoogLeNet / Inception: their published initialisation, said explicitly (torchvision warns otherwise)
    extra = {"init_weights": True} if arch in ("googlenet", "inception_v3") else {}
    try:
        return torchvision.models.get_model(arch, weights=None, **extra).eval()
    except (ValueError, KeyError) as exc:
        raise ValueError(f"torchvision model {arch!r}: {exc}") from exc


def open_planned(entry: Mapping[str, Any], network: Mapping[str, Any], ckpts: Mapping[int, str | Path] | None):
    """(network, normalisation or None) of one :func:`network_plan` entry."""
    from cnnpractice.semantic.sources import open_network

    seed = entry["seed"]
    if entry["group"] == "trained":
        return open_network(network, None if seed is None else ckpts[seed])
    if network.get("kind") == "workflow":
        return untrained_workflow_network(ckpts[seed], seed)
    return untrained_torchvision_network(network["arch"], seed), None
