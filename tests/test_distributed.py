"""Multi-process (DDP) training: the sharded sampler, 1 vs 2 CPU processes, batch-norm
synchronisation on GPUs, and a killed DDP training resumed."""

import csv
import json
import os
import shutil
import subprocess
import sys

import pytest
from test_workflow import copy_workflow, run

from cnnpractice.training.data import EpochSeededSampler


@pytest.mark.parametrize(
    "n, batch_size, replicas",
    [
        (50, 16, 2),  # the tiny config: last batch of 2
        (51, 16, 2),  # odd last batch: padded from the epoch's start
        (48, 12, 4),
        (5, 8, 2),  # fewer examples than one batch
        (3, 4, 4),  # fewer examples than processes
    ],
)
def test_shards_make_up_the_single_process_batches(n, batch_size, replicas):
    whole = EpochSeededSampler(n, seed=3)
    shards = [
        EpochSeededSampler(n, seed=3, num_replicas=replicas, rank=r, batch_size=batch_size) for r in range(replicas)
    ]
    for epoch in (0, 1, 7):
        for sampler in (whole, *shards):
            sampler.set_epoch(epoch)
        order = list(whole)
        share = batch_size // replicas
        parts = [list(s) for s in shards]
        assert len({len(p) for p in parts}) == 1 and all(len(p) == len(s) for p, s in zip(parts, shards))
        steps = -(-n // batch_size)
        for step in range(steps):
            batch = order[step * batch_size : (step + 1) * batch_size]
            together = [i for p in parts for i in p[step * share : (step + 1) * share]]
            pad = -len(batch) % replicas
            assert together == batch + [order[i % n] for i in range(pad)], (epoch, step)
        assert parts == [list(s) for s in shards]  # the same again: seeded, resumable


def test_shard_needs_a_batch_divisible_by_the_processes():
    with pytest.raises(ValueError, match="must be a multiple of 3"):
        EpochSeededSampler(10, seed=0, num_replicas=3, rank=0, batch_size=16)


def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


# Networks trained by 1 and by 2 DDP processes (gloo, CPU) on the same data. The processes
# split every batch and DDP averages their gradients, so they take the single-process steps.
COMPARE_SCRIPT = """
import json, sys
import numpy as np
from cnnpractice.training import runner
from cnnpractice.training.data import ArrayDataModule
from cnnpractice.training.settings import FitSettings

spec, devices, out = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
y = np.arange(48) % 2
shape = (1, 16, 16) if spec["name"] == "alexnet" else (24,)
x = (rng.normal(size=(48, *shape)) + 0.5 * y.reshape(-1, *[1] * len(shape))).astype(np.float32)
dm = ArrayDataModule(x[:32], y[:32], x[32:], y[32:], val_fraction=0.25, batch_size=8, seed=0, standardize="global")
result = runner.fit_and_test(task="classification", net_spec=spec, datamodule=dm, out_dir=out, seed=0,
                             fit=FitSettings(max_epochs=3, lr=0.01),
                             trainer_options={"accelerator": "cpu", "devices": devices, "strategy": "ddp",
                                              "progress_bar": False})
if runner.process_rank() == 0:
    print(json.dumps({k: result[k] for k in ("test_loss", "y_pred", "y_true", "processes", "n_test")}))
"""
# no batch norm in either: an AlexNet-style CNN (LRN, ReLU, pooling) and the LSTM, no dropout
NO_BATCH_NORM = {
    "alexnet": {
        "name": "alexnet", "in_channels": 1, "n_classes": 2, "variant": "alexnet", "geometry": "small",
        "input_size": 16, "width": 0.125, "dropout": 0.0,
    },
    "lstm": {
        "name": "lstm", "n_classes": 2, "hidden_size": 4, "num_layers": 1, "bidirectional": False,
        "dropout": 0.0, "window": 4, "pooling": "last",
    },
}  # fmt: skip


def train_on(tmp_path, spec, devices):
    script = tmp_path / "compare.py"
    script.write_text(COMPARE_SCRIPT)
    out = tmp_path / f"{spec['name']}_{devices}"
    proc = subprocess.run(
        [sys.executable, str(script), json.dumps(spec), str(devices), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1]), rows(out / "metrics.csv")


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(NO_BATCH_NORM))
def test_two_processes_take_the_single_process_steps(tmp_path, model):
    """Without batch norm (which normalises each process's half batch on its own on CPU)
    and without dropout, 2 processes train the network 1 process trains: every epoch's
    losses and the test loss to 1e-5, the same predictions."""
    (one, rows1), (two, rows2) = (train_on(tmp_path, NO_BATCH_NORM[model], d) for d in (1, 2))
    assert (one["processes"], two["processes"]) == (1, 2)
    assert two["n_test"] == one["n_test"] == 16 and two["y_true"] == one["y_true"]  # every test item once
    assert two["test_loss"] == pytest.approx(one["test_loss"], abs=1e-5)
    assert two["y_pred"] == one["y_pred"]
    assert len(rows1) == len(rows2) == 3
    for a, b in zip(rows1, rows2):
        for column in ("train_loss", "val_loss"):
            assert float(b[column]) == pytest.approx(float(a[column]), abs=1e-5), (column, a, b)
    # the losses moved: a network that learned nothing would match too
    assert float(rows1[-1]["train_loss"]) < float(rows1[0]["train_loss"]) - 1e-3


@pytest.mark.slow
def test_tiny_config_on_two_processes_matches_one(tmp_path):
    """The workflow's wiring under DDP: the tiny config's time-series job (every run of a
    dataset in one job) on 2 DDP processes (gloo, CPU) against 1.

    The processes split every batch and DDP averages their gradients, so they take the
    single-process steps: the LSTM matches to 1e-5 (it matched exactly when measured).
    The CNN's batch norm normalises each process's half batch on its own (PyTorch has no
    SyncBatchNorm on CPU; on GPUs the runner turns it on), so only its shapes are compared.
    """
    wf = copy_workflow(tmp_path)
    targets = [f"results/timeseries/GunPoint/{m}/run0/test.json" for m in ("lstm/raw", "cnn/gasf")]
    results = {}
    for devices in (1, 2):
        (wf / "ddp.yaml").write_text(f"trainer:\n  accelerator: cpu\n  devices: {devices}\n  strategy: ddp\n")
        code, out = run(
            [*targets, "--cores", "2", "--configfile", "tests/config/tiny.yaml", "ddp.yaml"], cwd=wf, timeout=600
        )
        assert code == 0, out[-4000:]
        results[devices] = {
            t: (json.loads((wf / t).read_text()), rows(wf / t.replace("test.json", "metrics.csv"))) for t in targets
        }
        shutil.copytree(wf / "results", tmp_path / f"results{devices}")
    log = (wf / "logs/train_timeseries/GunPoint.log").read_text()
    assert "MEMBER: 2/2" in log  # Lightning started the second process
    # one job trains every run of the dataset: the second process must keep in step with
    # the first from run to run (it once read a metrics.csv rank 0 had not yet published)
    runs = sorted((tmp_path / "results2/timeseries/GunPoint").glob("*/*/run*/test.json"))
    assert len(runs) > 2 and all(r.with_name("validation.json").is_file() for r in runs), runs

    for target in targets:
        (one, one_rows), (two, two_rows) = results[1][target], results[2][target]
        assert one["processes"] == 1 and two["processes"] == 2
        assert two["n_test"] == one["n_test"] == 150  # every test series exactly once
        assert sorted(two["y_true"]) == sorted(one["y_true"])
        assert len(two_rows) == len(one_rows) == 2
    (lstm1, rows1), (lstm2, rows2) = results[1][targets[0]], results[2][targets[0]]
    assert lstm2["test_loss"] == pytest.approx(lstm1["test_loss"], abs=1e-5)
    assert lstm2["y_pred"] == lstm1["y_pred"]
    for a, b in zip(rows1, rows2):
        assert float(b["train_loss"]) == pytest.approx(float(a["train_loss"]), abs=1e-5)
    # the CNN has batch norm, which each CPU process applies to its half batch: its numbers
    # are not compared here (a network without batch norm is, to 1e-5, in the unit tests)


@pytest.mark.parametrize(
    "accelerator, cuda, synced",
    [("gpu", False, True), ("cuda", False, True), ("auto", True, True), ("auto", False, False), ("cpu", True, False)],
)
def test_batch_norm_is_synchronised_across_gpu_processes(monkeypatch, accelerator, cuda, synced):
    """On GPUs the runner asks Lightning for SyncBatchNorm (statistics over the global
    batch, as one process computes them); on CPU, which has none, it does not."""
    import torch

    from cnnpractice.training.runner import _distributed_options

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    threads = torch.get_num_threads()
    try:
        options = _distributed_options(accelerator, 2)
    finally:
        torch.set_num_threads(threads)
    assert options["sync_batchnorm"] is synced
    assert "sync_batchnorm" not in _distributed_options(accelerator, 1)  # one process: nothing to sync


def test_lightning_turns_every_batch_norm_into_sync_batch_norm():
    """What sync_batchnorm=True does to the networks that have batch norm: every BatchNorm
    layer becomes a SyncBatchNorm with the same parameters (the conversion Lightning's
    strategy applies before training)."""
    import torch
    from pytorch_lightning.plugins import TorchSyncBatchNorm

    from cnnpractice.models import build_model

    for spec in (
        {"name": "cnn", "in_channels": 3, "n_classes": 2, "widths": [4, 8], "dropout": 0.0},
        {"name": "fcn", "in_channels": 1, "n_classes": 2, "widths": [4, 8, 4]},
    ):
        net = build_model(spec)
        norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        weights = [m.weight.detach().clone() for m in norms]
        synced = TorchSyncBatchNorm().apply(net)
        converted = [m for m in synced.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        assert norms and len(converted) == len(norms), spec
        assert all(isinstance(m, torch.nn.SyncBatchNorm) for m in converted), spec
        assert all(torch.equal(m.weight, w) for m, w in zip(converted, weights))


RESUME_SCRIPT = """
import json, os, sys
import numpy as np
from cnnpractice.training import callbacks, runner
from cnnpractice.training.data import ArrayDataModule
from cnnpractice.training.settings import FitSettings

crash = int(os.environ.get("CRASH_AT", "-1"))
original = callbacks.EpochHistory.on_train_epoch_end
def killed(self, trainer, pl_module):  # a kill after the epoch's row, before its checkpoint
    original(self, trainer, pl_module)
    if trainer.current_epoch == crash:
        raise RuntimeError("simulated kill")
callbacks.EpochHistory.on_train_epoch_end = killed

rng = np.random.default_rng(0)
y = np.arange(50) % 2
x = (rng.normal(size=(50, 32)) + y[:, None]).astype(np.float32)
spec = {"name": "lstm", "n_classes": 2, "hidden_size": 8, "num_layers": 1, "bidirectional": False,
        "dropout": 0.3, "window": 4, "pooling": "last"}
dm = ArrayDataModule(x, y, x, y, val_fraction=0.2, batch_size=16, seed=0, standardize="global")
result = runner.fit_and_test(task="classification", net_spec=spec, datamodule=dm, out_dir=sys.argv[1], seed=0,
                             fit=FitSettings(max_epochs=4, lr=0.01),
                             trainer_options={"accelerator": "cpu", "devices": 2, "strategy": "ddp",
                                              "progress_bar": False})
if runner.process_rank() == 0:
    print(json.dumps({k: result[k] for k in ("resumed", "test_loss", "processes", "epochs_run")}))
"""


@pytest.mark.slow
def test_ddp_training_killed_resumes_like_an_uninterrupted_one(tmp_path):
    """2 processes, dropout and a validation split: killed after epoch 1, rerun, equal to a
    run never killed (the shards are seeded per epoch, rank 0's checkpoint restores both)."""
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)

    def train(out, **env):
        proc = subprocess.run(
            [sys.executable, str(script), str(tmp_path / out)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **env},
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        return proc.returncode, (json.loads(lines[-1]) if lines else None), proc.stderr[-3000:]

    code, _, err = train("killed", CRASH_AT="1")
    assert code != 0 and "simulated kill" in err
    assert (tmp_path / "killed.work/checkpoints/last.ckpt").is_file()
    code, resumed, err = train("killed")
    assert code == 0 and resumed["resumed"] is True, err
    code, whole, err = train("whole")
    assert code == 0 and whole["resumed"] is False, err
    assert resumed["processes"] == whole["processes"] == 2 and resumed["epochs_run"] == 4
    assert resumed["test_loss"] == whole["test_loss"]
    assert rows(tmp_path / "killed/metrics.csv") == [
        {**r, "seconds": a["seconds"]}
        for r, a in zip(rows(tmp_path / "whole/metrics.csv"), rows(tmp_path / "killed/metrics.csv"))
    ]
