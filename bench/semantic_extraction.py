"""Class-mean extraction of the semantic study: throughput against a plain forward pass, and
peak memory for two image counts.

Throughput: the offline default's network (AlexNet-style, width 0.25, 28 px, random
weights: speed does not depend on them) over a prepared uint8 array read the way the
workflow reads it (:class:`cnnpractice.semantic.sources.ArrayImages`), once as a plain
``net(x)`` per batch and once with the seven layers tapped into per-class means
(:func:`cnnpractice.semantic.activations.stream_class_means`). Rounds alternate; the best
round of each counts. Peak memory: the whole extraction step
(:func:`cnnpractice.semantic.stages.extract_semantic_activations`, from checkpoint to written
files) in a fresh process per image count, its peak resident set size.

    .venv/bin/python bench/semantic_extraction.py [--images 10000] [--sizes 10000 60000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ARCH = {"variant": "alexnet", "geometry": "small", "width": 0.25, "dropout": 0.5}
LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]


def prepared(folder: Path, n: int, classes: int = 10, seed: int = 0) -> Path:
    """A prepared-dataset folder of ``n`` random 28x28 gray test images, written in chunks."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, count in (("train", classes), ("test", n)):
        x = np.lib.format.open_memmap(folder / f"{split}_x.npy", mode="w+", dtype=np.uint8, shape=(count, 1, 28, 28))
        for start in range(0, count, 4096):
            stop = min(count, start + 4096)
            x[start:stop] = rng.integers(0, 256, (stop - start, 1, 28, 28), dtype=np.uint8)
        x.flush()
        del x
        np.save(folder / f"{split}_y.npy", np.arange(count, dtype=np.int64) % classes)
    (folder / "classes.json").write_text(json.dumps({"classes": [f"c{i}" for i in range(classes)]}))
    return folder


def checkpoint(folder: Path) -> Path:
    """A workflow-style checkpoint (and test.json with the normalisation) of a random network."""
    import pytorch_lightning as pl
    import torch

    from cnnpractice.training.module import ClassificationModule

    spec = {"name": "alexnet", **ARCH, "in_channels": 1, "n_classes": 10, "input_size": 28}
    module = ClassificationModule(model_spec=spec)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": pl.__version__,
        },
        folder / "model.ckpt",
    )
    (folder / "test.json").write_text(json.dumps({"normalization": {"mean": [72.9], "std": [90.0]}}))
    return folder / "model.ckpt"


def throughput(data: Path, ckpt: Path, batch_size: int, rounds: int) -> dict:
    import torch

    from cnnpractice.semantic.activations import stream_class_means
    from cnnpractice.semantic.layers import layer_modules
    from cnnpractice.semantic.sources import ArrayImages, workflow_network

    net, norm = workflow_network(ckpt)
    source = ArrayImages(data, split="test", mean=norm["mean"], std=norm["std"], batch_size=batch_size)
    modules = layer_modules("workflow", "alexnet", LAYERS)

    def plain():
        with torch.inference_mode():
            for x, _ in source.batches():
                net(x)

    def extract():
        stream_class_means(net, source.batches(), modules, len(source.classes))

    best = {"plain": float("inf"), "extract": float("inf")}
    for _ in range(rounds):
        for name, fn in (("plain", plain), ("extract", extract)):
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    n = len(source.labels)
    return {
        "images": n,
        "plain_images_per_s": n / best["plain"],
        "extract_images_per_s": n / best["extract"],
        "ratio": best["plain"] / best["extract"],
    }


def peak_memory_child(data: str, ckpt: str, out: str) -> None:
    from cnnpractice.semantic.stages import extract_semantic_activations

    extract_semantic_activations(
        out_dir=out,
        network={"kind": "workflow", "arch": "alexnet"},
        dataset={"kind": "arrays", "data_dir": data, "split": "test"},
        layers=LAYERS,
        ckpt=ckpt,
        accelerator="cpu",
    )
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000, help="images of the throughput run")
    parser.add_argument("--sizes", type=int, nargs=2, default=[10000, 60000], help="image counts of the memory runs")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.child:
        peak_memory_child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = checkpoint(tmp / "net")
        r = throughput(prepared(tmp / f"data{args.images}", args.images), ckpt, args.batch_size, args.rounds)
        print(
            f"throughput, {r['images']} images 1x28x28, {args.threads} threads: plain forward "
            f"{r['plain_images_per_s']:.0f} images/s, extraction (7 layers -> class means) "
            f"{r['extract_images_per_s']:.0f} images/s, ratio {r['ratio']:.3f}"
        )
        for n in args.sizes:
            data = prepared(tmp / f"data{n}", n)
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--threads",
                    str(args.threads),
                    "--child",
                    str(data),
                    str(ckpt),
                    str(tmp / f"out{n}"),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            peak = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mb"]
            print(f"peak memory, extraction of {n} images (7 layers, whole step): {peak:.0f} MB")


if __name__ == "__main__":
    main()
