"""Multi-process (DDP) training: the sharded sampler, and the tiny config on 2 CPU processes."""

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


@pytest.mark.slow
def test_tiny_config_on_two_processes_matches_one(tmp_path):
    """The tiny config's LSTM and CNN trained by 2 DDP processes (gloo, CPU) against 1.

    The processes split every batch and DDP averages their gradients, so they take the
    single-process steps: the LSTM matches to 1e-5 (it matched exactly when measured).
    The CNN's batch norm normalises each process's half batch on its own (PyTorch has no
    SyncBatchNorm on CPU; on GPUs the runner turns it on), so its numbers only match
    within a tolerance: 0.05 in loss, 0.15 in test accuracy (150 series).
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
    log = (wf / "logs/train_timeseries/GunPoint/lstm/raw/run0.log").read_text()
    assert "MEMBER: 2/2" in log  # Lightning started the second process

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
    # measured: test loss 0.6561 vs 0.6563, accuracy 0.600 vs 0.647, train loss 0.01 apart
    (cnn1, rows1), (cnn2, rows2) = results[1][targets[1]], results[2][targets[1]]
    assert cnn2["test_loss"] == pytest.approx(cnn1["test_loss"], abs=0.05)
    assert cnn2["test_accuracy"] == pytest.approx(cnn1["test_accuracy"], abs=0.15)
    for a, b in zip(rows1, rows2):
        assert float(b["train_loss"]) == pytest.approx(float(a["train_loss"]), abs=0.05)


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
