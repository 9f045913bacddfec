"""Training throughput of the small-data CNNs, and data loading vs compute.

For each architecture: a uint8 memory-mapped image array (as prepare_smalldata
writes) served by the workflow's ArrayDataModule (LazyImageDataset, one fancy
index + conversion per batch), and a training step (forward, backward, AdamW)
of the model. Reports images/s of the data pipeline alone, of the compute alone
(the same batch again and again) and of the two together, and the share of the
combined time spent waiting for data.

    .venv/bin/python bench/smalldata_throughput.py [--device cpu|cuda] [--steps 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cnnpractice.models import build_model
from cnnpractice.training.data import ArrayDataModule

CASES = [
    # name, model params, image side, channels, batch size
    ("alexnet 227px", {"variant": "alexnet", "geometry": "imagenet", "width": 1.0}, 227, 3, 64),
    ("alexnet_simple 227px", {"variant": "alexnet_simple", "geometry": "imagenet", "width": 1.0}, 227, 3, 64),
    ("alexnet w0.25 28px (default)", {"variant": "alexnet", "geometry": "small", "width": 0.25}, 28, 1, 32),
]


def memmap_images(folder: Path, n: int, side: int, channels: int) -> np.ndarray:
    path = folder / f"x_{side}_{channels}.npy"
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, channels, side, side))
    for start in range(0, n, 256):
        stop = min(n, start + 256)
        x[start:stop] = rng.integers(0, 256, (stop - start, channels, side, side), dtype=np.uint8)
    x.flush()
    del x
    return np.load(path, mmap_mode="r")


def bench(name, params, side, channels, batch, steps, device, folder) -> dict:
    n = batch * (steps + 2)
    x = memmap_images(folder, n, side, channels)
    y = np.arange(n) % 10
    dm = ArrayDataModule(x, y, x[:batch], y[:batch], val_fraction=0.0, batch_size=batch, seed=0)
    dm.setup("fit")
    loader = dm.train_dataloader()
    net = build_model(
        {"name": "alexnet", "in_channels": channels, "n_classes": 10, "input_size": side, "dropout": 0.5, **params}
    ).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def step(xb, yb):
        loss = torch.nn.functional.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    # warm-up (allocator, cuDNN autotuning, page cache)
    xb, yb = next(iter(loader))
    step(xb.to(device), yb.to(device))
    sync()

    t0 = time.perf_counter()
    seen = 0
    for i, (_xb, yb) in enumerate(loader):
        if i == steps:
            break
        seen += len(yb)
    data_rate = seen / (time.perf_counter() - t0)

    xb, yb = xb.to(device), yb.to(device)
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step(xb, yb)
    sync()
    compute_rate = steps * len(yb) / (time.perf_counter() - t0)

    wait = 0.0
    t0 = time.perf_counter()
    seen = 0
    it = iter(loader)
    for _ in range(steps):
        t1 = time.perf_counter()
        xb, yb = next(it)
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        wait += time.perf_counter() - t1
        step(xb, yb)
        seen += len(yb)
    sync()
    total = time.perf_counter() - t0
    return {
        "case": name,
        "batch": batch,
        "data img/s": data_rate,
        "compute img/s": compute_rate,
        "train img/s": seen / total,
        "data share": wait / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.steps} steps per measurement")
    print(
        f"{'case':30s} {'batch':>5s} {'data img/s':>11s} {'compute img/s':>14s} "
        f"{'train img/s':>12s} {'data share':>10s}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            r = bench(*case, steps=args.steps, device=device, folder=Path(tmp))
            print(
                f"{r['case']:30s} {r['batch']:5d} {r['data img/s']:11.0f} {r['compute img/s']:14.1f} "
                f"{r['train img/s']:12.1f} {r['data share']:10.1%}"
            )


if __name__ == "__main__":
    main()
