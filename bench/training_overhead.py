"""Lightning's training-loop overhead against a bare PyTorch loop.

Same model (the study's ImageCNN), same in-memory data, same DataLoader, optimizer,
batch size and number of epochs; only the loop differs. Three timings:

* bare:      a hand-written PyTorch loop (forward, loss, backward, step; per-epoch accuracy)
* lightning: ``build_trainer`` with no logger, checkpointing or progress bar
* runner:    the workflow's ``fit_and_test`` (checkpoints every epoch, TensorBoard,
             history CSV, validation split, final test): what a rule really runs

Prints seconds (median of --repeats) and the ratios to bare. ``--check`` exits non-zero
if lightning/bare exceeds 1.10.

    python bench/training_overhead.py --n 512 --size 64 --epochs 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def make_data(n: int, size: int, channels: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, channels, size, size)).astype(np.float32)
    x += y[:, None, None, None].astype(np.float32) * 0.3
    return x, y


SPEC = {"name": "cnn", "in_channels": 3, "n_classes": 4, "widths": [32, 64, 128]}


def bare_loop(x, y, epochs, batch_size, seed):
    from torch.utils.data import DataLoader, TensorDataset

    from cnnpractice.models import build_model

    torch.manual_seed(seed)
    net = build_model(SPEC)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    t0 = time.perf_counter()
    for _ in range(epochs):
        net.train()
        correct = 0
        for xb, yb in loader:
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct += int((logits.argmax(1) == yb).sum())
    return time.perf_counter() - t0


def lightning_loop(x, y, epochs, batch_size, seed):
    import pytorch_lightning as pl

    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.module import ClassificationModule
    from cnnpractice.training.runner import build_trainer

    pl.seed_everything(seed, verbose=False)
    dm = ArrayDataModule(
        x, y, x[:batch_size], y[:batch_size], val_fraction=0.0, batch_size=batch_size, seed=seed, standardize="none"
    )
    module = ClassificationModule(model_spec=SPEC, lr=1e-3)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(
            work_dir=tmp,
            max_epochs=epochs,
            accelerator="cpu",
            logger=False,
            progress_bar=False,
            enable_checkpointing=False,
            enable_model_summary=False,
        )
        t0 = time.perf_counter()
        trainer.fit(module, datamodule=dm)
        return time.perf_counter() - t0


def runner_loop(x, y, epochs, batch_size, seed):
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import FitSettings

    dm = ArrayDataModule(
        x, y, x[:batch_size], y[:batch_size], val_fraction=0.0, batch_size=batch_size, seed=seed, standardize="none"
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit_and_test(
            task="classification",
            net_spec=SPEC,
            datamodule=dm,
            out_dir=f"{tmp}/run",
            seed=seed,
            fit=FitSettings(max_epochs=epochs),
            trainer_options={"accelerator": "cpu", "progress_bar": False},
        )
        return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--check", action="store_true", help="fail if lightning/bare > 1.10")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    x, y = make_data(args.n, args.size, 3, seed=0)
    loops = {"bare": bare_loop, "lightning": lightning_loop, "runner": runner_loop}
    times = {name: [] for name in loops}
    for _ in range(args.repeats):  # interleaved, so drift hits every loop alike
        for name, fn in loops.items():
            times[name].append(fn(x, y, args.epochs, args.batch_size, seed=0))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(
        f"{args.n} images 3x{args.size}x{args.size}, batch {args.batch_size}, {args.epochs} epochs, "
        f"{args.threads} threads, median of {args.repeats}"
    )
    print(f"{'loop':<10} {'seconds':>9} {'vs bare':>8}")
    for name in loops:
        print(f"{name:<10} {med[name]:>9.3f} {med[name] / med['bare']:>8.3f}")
    ratio = med["lightning"] / med["bare"]
    if args.check and ratio > 1.10:
        print(f"FAIL: lightning/bare = {ratio:.3f} > 1.10")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
