"""Build the Trainer in one place and run a resumable fit + test: one core for every task.

:func:`fit_and_test` trains a classifier (cross-entropy, accuracy, confusion matrix) or a
regressor (standardised targets, least squares, RMSE per target); ``task`` picks the
LightningModule and what ``test.json`` reports, everything else is shared.

Layout of one training run (``out_dir`` holds the declared outputs, ``work_dir``
the in-progress state that survives a killed job; see :mod:`.workdir`)::

    out_dir/model.ckpt       best checkpoint (by the monitored metric)
    out_dir/metrics.csv      one row per epoch: train/val loss (and accuracy)
    out_dir/test.json        test metrics of the best checkpoint, predictions
    out_dir/tensorboard/     TensorBoard event files
    work_dir/                last.ckpt, best so far, run.json, tensorboard (while running)

Rerunning after a kill resumes from ``work_dir``'s ``last.ckpt`` when the run's
settings and data (``run.json``: task, hyperparameters, architecture, seed, a
SHA-256 of the arrays and of the validation split, the initial weights' id) are
unchanged and the checkpoint loads; anything else starts afresh. Shuffling is
seeded per epoch and the random state is saved in every checkpoint, so a resumed
run computes what an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from cnnpractice.training.callbacks import EpochHistory, EpochLog, RandomState, StopOnSigterm
from cnnpractice.training.settings import FitSettings
from cnnpractice.training.workdir import prepare_work_dir, publish_run

log = logging.getLogger("cnnpractice.training")
TASKS = ("classification", "regression")


def process_rank() -> int:
    """Global rank of this process, known before any Trainer exists: set by Lightning's
    launcher for the processes it starts (``LOCAL_RANK``), by ``torchrun`` (``RANK``) or
    by ``srun`` (``SLURM_PROCID``); 0 for a plain single process."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return 0


def _distributed_options(accelerator: str, devices: int | str) -> dict[str, Any]:
    """Trainer options for ``devices`` > 1 processes on one node (DDP).

    * Where ``srun`` started one task per device (``SLURM_NTASKS`` > 1, e.g.
      ``srun --ntasks-per-node=2 python train.py``), Lightning's ``SLURMEnvironment``
      wires the tasks together. Otherwise (a workstation, or a Snakemake job that
      SLURM runs as one task holding all its GPUs) ``LightningEnvironment``: Lightning
      starts the other processes itself by rerunning the script.
    * ``use_distributed_sampler=False``: the data modules shard the training batches
      themselves (:class:`~cnnpractice.training.data.EpochSeededSampler`), so that the
      processes together take exactly the single-process steps; validation and test
      run whole on every process.
    * ``sync_batchnorm`` on GPUs: batch statistics over the whole global batch, as
      one process would compute them (PyTorch has no CPU SyncBatchNorm).
    * Each process gets an equal share of the threads this one may use, and
      ``OMP_NUM_THREADS`` says so to the processes Lightning starts.
    """
    if not isinstance(devices, int) or devices <= 1:
        return {"use_distributed_sampler": False}
    import torch
    from pytorch_lightning.plugins.environments import LightningEnvironment, SLURMEnvironment

    srun_tasks = int(os.environ.get("SLURM_NTASKS", "1") or 1)
    interactive = os.environ.get("SLURM_JOB_NAME") in ("bash", "interactive")
    environment = SLURMEnvironment() if srun_tasks > 1 and not interactive else LightningEnvironment()
    threads = max(1, torch.get_num_threads() // devices)
    torch.set_num_threads(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return {"use_distributed_sampler": False, "plugins": [environment], "sync_batchnorm": on_gpu}


def build_trainer(
    *,
    work_dir: str | Path,
    max_epochs: int,
    accelerator: str = "auto",
    devices: int | str = 1,
    strategy: str = "auto",
    precision: str = "32-true",
    deterministic: bool | str = True,
    progress_bar: bool = True,
    callbacks: list | None = None,
    logger=None,
    **kwargs,
) -> pl.Trainer:
    """The one place the project builds a ``pl.Trainer`` (settings come from config).

    ``devices`` > 1 trains with one process per device (``strategy`` ``auto`` or
    ``ddp``: DistributedDataParallel on one node); see :func:`_distributed_options`.
    ``progress_bar``: Lightning's bar, except where the output goes to a file (every
    Snakemake job's log): one line per epoch there instead (:class:`.callbacks.EpochLog`),
    as the bar's redraws are unreadable in a file and cost about 8 % of a small run's CPU.
    """
    callbacks = list(callbacks or [])
    if progress_bar and _output_is_a_file():
        progress_bar = False
        callbacks.append(EpochLog())
    options = dict(log_every_n_steps=1, num_sanity_val_steps=0, enable_model_summary=True)
    options.update(_distributed_options(accelerator, devices))
    options.update(kwargs)
    return pl.Trainer(
        default_root_dir=str(work_dir),
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        precision=precision,
        deterministic=deterministic,
        enable_progress_bar=progress_bar,
        callbacks=callbacks,
        logger=logger,
        **options,
    )


def _output_is_a_file() -> bool:
    """Whether stdout or stderr is a regular file (a rule's log), not a terminal, a pipe
    or a notebook's stream."""
    import stat
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            if stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                return True
        except (AttributeError, OSError, ValueError):  # no file descriptor (e.g. Jupyter)
            continue
    return False


def _module(task: str, net_spec: dict[str, Any], fit: FitSettings, datamodule, loss: str):
    """The LightningModule of ``task`` with its hyperparameters (saved in every checkpoint)."""
    from cnnpractice.training.module import ClassificationModule, RegressionModule

    common = dict(lr=fit.lr, weight_decay=fit.weight_decay, scheduler=fit.scheduler, max_epochs=fit.max_epochs)
    if task == "classification":
        return ClassificationModule(model_spec=net_spec, **common, label_smoothing=fit.label_smoothing)
    targets = datamodule.y_train[datamodule.train_idx]
    return RegressionModule(
        model_spec=net_spec,
        **common,
        loss=loss,
        target_mean=targets.mean(axis=0).tolist(),
        target_std=np.maximum(targets.std(axis=0), 1e-6).tolist(),
    )


def _task_result(task: str, module, class_names, target_names, save_probabilities: bool) -> dict[str, Any]:
    """What ``test.json`` reports for ``task`` from the module's test outputs."""
    out = module.test_outputs
    y, pred = out["y"].numpy(), out["pred"].numpy()
    if task == "regression":
        return {
            "rmse": dict(zip(target_names or range(y.shape[1]), np.sqrt(((pred - y) ** 2).mean(axis=0)).tolist())),
            "target_names": list(target_names or []),
            "y_true": y.tolist(),
            "y_pred": pred.tolist(),
        }
    n_classes = out["prob"].shape[1]
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    return {
        "test_accuracy": float((y == pred).mean()),
        "class_names": class_names,
        "confusion": confusion.tolist(),
        "y_true": y.tolist(),
        "y_pred": pred.tolist(),
        **({"y_prob": np.round(out["prob"].numpy().astype(float), 6).tolist()} if save_probabilities else {}),
    }


def fit_and_test(
    *,
    task: str,
    net_spec: dict[str, Any],
    datamodule,
    out_dir: str | Path,
    fit: FitSettings,
    seed: int = 0,
    trainer_options: dict[str, Any] | None = None,
    work_dir: str | Path | None = None,
    extra_info: dict[str, Any] | None = None,
    init_state: dict[str, Any] | None = None,
    init_id: str | None = None,
    class_names: list[str] | None = None,
    save_probabilities: bool = False,
    loss: str = "mse",
    target_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train ``net_spec`` on ``datamodule``, resumably; test the best checkpoint once.

    Parameters
    ----------
    task : ``classification`` (integer labels; cross-entropy) or ``regression`` (float
        targets (n, k), e.g. a :class:`~cnnpractice.training.data.TargetArrayDataModule`;
        standardised, fitted with ``loss``: ``mse`` or ``smooth_l1``).
    net_spec : model spec for :func:`cnnpractice.models.build_model`.
    datamodule : an :class:`~cnnpractice.training.data.ArrayDataModule` (or any
        LightningDataModule with ``train_idx``/``val_idx``).
    out_dir : where the declared outputs go (see module docstring).
    fit : optimiser, schedule, epochs and ``monitor`` (:class:`FitSettings`); a
        regression is monitored by ``val_loss``. Without a validation split the
        monitor falls back to the training metric.
    trainer_options : ``accelerator``, ``devices``, ``precision``, ``deterministic``,
        ``progress_bar`` for :func:`build_trainer`.
    work_dir : in-progress state; default ``out_dir.parent / (out_dir.name + ".work")``.
    extra_info : merged into ``test.json`` (e.g. dataset and transform names).
    init_state : part of the network's ``state_dict`` loaded over the fresh
        initialisation before training (e.g. the frozen blocks of greedy
        layer-wise training); keys it has that the network lacks are an error.
    init_id : identifies ``init_state`` (e.g. the SHA-256 of the checkpoint it
        came from) in ``run.json``, so a run never resumes over changed weights.
    class_names, save_probabilities : classification: the class names, and whether to
        store every test example's class probabilities (``y_prob``, (n_test, n_classes)).
    target_names : regression: names of the targets (keys of ``rmse``).

    Returns
    -------
    The dict written to ``test.json``: ``test_loss``, sizes, ``best_epoch``, timing,
    ``y_true``/``y_pred``; classification adds ``test_accuracy``, ``confusion`` and
    ``class_names``, regression ``rmse`` per target and ``target_names``.
    """
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import TensorBoardLogger

    from cnnpractice.workflow import sigterm_deferred

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "regression" and fit.monitor != "val_loss":
        raise ValueError(f"a regression is monitored by 'val_loss', got {fit.monitor!r}")
    out_dir = Path(out_dir)
    work_dir = Path(work_dir) if work_dir else out_dir.parent / f"{out_dir.name}.work"
    monitor = fit.monitor if len(datamodule.val_idx) else fit.monitor.replace("val_", "train_")
    trainer_options = dict(trainer_options or {})
    fingerprint = getattr(datamodule, "fingerprint", None)
    settings = {
        "task": task,
        "net_spec": net_spec,
        "seed": seed,
        "monitor": monitor,
        "lr": fit.lr,
        "weight_decay": fit.weight_decay,
        "scheduler": fit.scheduler,
        "max_epochs": fit.max_epochs,
        **({"label_smoothing": fit.label_smoothing} if task == "classification" else {"loss": loss}),
        "batch_size": getattr(datamodule, "batch_size", None),
        "val_fraction": getattr(datamodule, "val_fraction", None),
        "data_sha256": fingerprint() if callable(fingerprint) else None,
        # an explicit split (e.g. by subject) can change while the data stays the same
        "val_idx_sha256": hashlib.sha256(np.asarray(datamodule.val_idx, dtype=np.int64).tobytes()).hexdigest(),
        "init_id": init_id if init_state is not None else None,
        # the progress bar changes nothing computed: toggling it keeps the run resumable
        "trainer": {k: v for k, v in trainer_options.items() if k != "progress_bar"},
    }
    resume_from = prepare_work_dir(work_dir, settings, rank=process_rank())
    if resume_from:
        log.info(f"resuming from {resume_from}")

    pl.seed_everything(seed, workers=True)
    module = _module(task, net_spec, fit, datamodule, loss)
    if init_state is not None:
        unexpected = sorted(set(init_state) - set(module.net.state_dict()))
        if unexpected:
            raise ValueError(f"init_state has keys the network {net_spec.get('name')!r} lacks: {unexpected[:5]}")
        module.net.load_state_dict(init_state, strict=False)
    history = EpochHistory(work_dir / "metrics.csv")
    best = ModelCheckpoint(
        dirpath=work_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="min" if monitor.endswith("loss") else "max",
        save_top_k=1,
        save_last=True,
        save_on_train_epoch_end=True,
    )
    logger = TensorBoardLogger(save_dir=str(work_dir), name="tensorboard", version=0, default_hp_metric=False)
    trainer = build_trainer(
        work_dir=work_dir,
        max_epochs=fit.max_epochs,
        callbacks=[history, RandomState(), StopOnSigterm(), best],
        logger=logger,
        **trainer_options,
    )
    t0 = time.perf_counter()
    # a SIGTERM during fit/test stops at the next batch (a checkpoint is never cut in half)
    with sigterm_deferred():
        trainer.fit(
            module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None, weights_only=True
        )
    fit_seconds = time.perf_counter() - t0
    # trainer.test(ckpt_path=...) restores callback state from that checkpoint too:
    # keep the complete history of the fit.
    rows = list(history.rows)

    best_path = best.best_model_path or str(work_dir / "checkpoints" / "last.ckpt")
    with sigterm_deferred():
        tested = trainer.test(module, datamodule=datamodule, ckpt_path=best_path, verbose=False, weights_only=True)[0]
    scores = np.array([row[monitor] for row in rows], dtype=float)
    # ModelCheckpoint replaces its best only on strict improvement: the first optimum wins.
    best_epoch = int(rows[int(np.nanargmin(scores) if monitor.endswith("loss") else np.nanargmax(scores))]["epoch"])
    result = {
        "test_loss": float(tested["test_loss"]),
        "n_test": int(len(module.test_outputs["y"])),
        "n_train": int(len(datamodule.train_idx)),
        "n_val": int(len(datamodule.val_idx)),
        "best_epoch": best_epoch,
        "epochs_run": len(rows),
        "monitor": monitor,
        "fit_seconds_this_run": round(fit_seconds, 3),
        "resumed": resume_from is not None,
        "device": str(trainer.strategy.root_device),
        "processes": trainer.world_size,
        "seed": seed,
        **_task_result(task, module, class_names, target_names, save_probabilities),
        **(extra_info or {}),
    }
    if trainer.is_global_zero:  # DDP: every process tested all of the test set; rank 0 writes
        publish_run(trainer, out_dir=out_dir, work_dir=work_dir, best_path=best_path, rows=rows, result=result)
    return result
