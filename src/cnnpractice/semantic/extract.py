"""The extraction stage's work: every network of one semantic model (trained seeds, untrained
twins) streamed over the dataset, class-mean activations per layer written per network."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnnpractice.io import save_npz, write_json

log = logging.getLogger("cnnpractice.semantic")


def extract_activations(
    *,
    out_dir: str | Path,
    network: Mapping[str, Any],
    dataset: Mapping[str, Any],
    layers: Sequence[str],
    seeds: Sequence[int],
    modules: Mapping[str, str] | None = None,
    ckpts: Mapping[int, str | Path] | None = None,
    untrained: bool = True,
    pooling: str = "mean",
    batch_size: int = 256,
    accelerator: str = "auto",
    workers: int = 0,
    config_key: str = "layers",
) -> dict[str, Any]:
    """Stream ``dataset`` through every network of the model (:func:`.networks.network_plan`:
    the trained ones, ``ckpts`` seed -> checkpoint for workflow networks, and with
    ``untrained`` their seeded untrained twins); write per network and layer the class means
    into ``out_dir/<network>/<layer>.npz``.

    ``layers``: names resolved to modules by :func:`cnnpractice.semantic.layers.layer_modules`
    (``modules`` adds or overrides name -> module path). Returns what ``classes.json``
    holds: classes, class_ids, counts, layers (name -> module), features per layer,
    pooling, networks, images, seconds and images per second.
    """
    import torch

    from cnnpractice.data.archives import staged_dir
    from cnnpractice.semantic.activations import stream_class_means
    from cnnpractice.semantic.layers import layer_modules
    from cnnpractice.semantic.networks import network_plan, open_planned
    from cnnpractice.semantic.sources import open_source
    from cnnpractice.training.device import choose_device

    layers = layer_modules(network.get("kind"), network.get("arch"), layers, modules, config_key)
    ckpts = {int(k): v for k, v in (ckpts or {}).items()}
    plan = network_plan(network.get("kind"), seeds, ckpts, untrained)
    device = choose_device(accelerator)
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    with staged_dir(out_dir, "activations", replace="classes.json") as stage:
        for entry in plan:
            net, normalization = open_planned(entry, network, ckpts)
            net = net.to(device)
            source = open_source(
                dataset,
                normalization=normalization,
                batch_size=batch_size,
                workers=workers,
                pin_memory=device.type == "cuda",
            )
            means, counts = stream_class_means(
                net,
                source.batches(),
                layers,
                len(source.classes),
                pooling=pooling,
                device=device,
                class_names=source.classes,
                config_key=config_key,
            )
            (stage / entry["name"]).mkdir()
            for label, m in means.items():
                save_npz(
                    stage / entry["name"] / f"{label}.npz",
                    means=m.astype(np.float32),
                    counts=counts,
                    classes=np.array(source.classes),
                    class_ids=np.array(source.class_ids),
                )
            log.info(
                f"activations {entry['name']}: {int(counts.sum())} images of {len(source.classes)} classes "
                f"through {network.get('arch', type(net).__name__)} on {device}"
            )
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        info = {
            "classes": list(source.classes),
            "class_ids": list(source.class_ids),
            "counts": counts.tolist(),
            "layers": dict(layers),
            "pooling": pooling,
            "features": {label: int(m.shape[1]) for label, m in means.items()},
            "networks": plan,
            "images": int(counts.sum()),
            "seconds": round(seconds, 3),
            "images_per_second": round(float(counts.sum()) * len(plan) / max(seconds, 1e-9), 1),
            "device": str(device),
        }
        write_json(stage / "classes.json", info)
    log.info(
        f"activations: {len(plan)} networks x {info['images']} images in {seconds:.1f} s "
        f"({info['images_per_second']} images/s); features per layer {info['features']} -> {out_dir}"
    )
    return info
