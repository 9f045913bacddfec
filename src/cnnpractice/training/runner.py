"""Build the Trainer in one place and run a resumable fit + test.

Layout of one training run (``out_dir`` holds the declared outputs, ``work_dir``
the in-progress state that survives a killed job)::

    out_dir/model.ckpt       best checkpoint (by the monitored metric)
    out_dir/metrics.csv      one row per epoch: train/val loss and accuracy
    out_dir/test.json        test metrics of the best checkpoint, predictions
    out_dir/tensorboard/     TensorBoard event files
    work_dir/                last.ckpt, best so far, run.json, tensorboard (while running)

Rerunning after a kill resumes from ``work_dir``'s ``last.ckpt`` when the run's
settings and data (``run.json``: hyperparameters, architecture, seed and a
SHA-256 of the arrays) are unchanged; anything else starts afresh. Shuffling is
seeded per epoch and the random state is saved in every checkpoint, so a resumed
run computes what an uninterrupted one would.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from cnnpractice.io import atomic_path, write_json
from cnnpractice.training.module import ClassificationModule

HISTORY_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


class EpochHistory(pl.Callback):
    """Record epoch metrics, save them in checkpoints, and rewrite ``path`` each epoch.

    Because the rows travel inside every checkpoint, a resumed run still ends
    with the full history. Lightning runs checkpoint callbacks after this one, so
    a checkpoint saved at an epoch's end already holds that epoch's row.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []
        self._t0 = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch, "seconds": round(time.perf_counter() - self._t0, 4)}
        for key in HISTORY_FIELDS[1:-1]:
            row[key] = float(metrics[key]) if key in metrics else float("nan")
        self.rows.append(row)
        if trainer.is_global_zero:  # every DDP process keeps the rows; one writes them
            write_history(self.path, self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict["rows"])


class RandomState(pl.Callback):
    """Carry torch's random state (dropout masks, ...) in every checkpoint and restore it
    when a fit resumes, so a resumed run draws what an uninterrupted one would.

    Being callback state, it is restored by the Trainer only (``fit``/``test`` with
    ``ckpt_path``), not by ``load_from_checkpoint``. Only the current CUDA device's
    state is kept, so a run can resume where a different number of GPUs is visible.
    """

    def state_dict(self) -> dict[str, Any]:
        import torch

        state = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state()  # the current device only
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        import torch

        torch.set_rng_state(state_dict["cpu"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state(state_dict["cuda"])


def write_history(path: str | Path, rows: list[dict[str, float]]) -> None:
    """Write epoch rows as CSV (atomically)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


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
    """
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
        callbacks=callbacks or [],
        logger=logger,
        **options,
    )


def _wait_for_launched_processes(trainer: pl.Trainer, timeout: float = 120.0) -> None:
    """Let the DDP processes that Lightning started (rerunning this script) exit before
    rank 0 writes the outputs and returns, so a finished job leaves nothing running."""
    import subprocess

    deadline = time.monotonic() + timeout
    for proc in getattr(getattr(trainer.strategy, "launcher", None), "procs", None) or []:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[train] DDP process {proc.pid} still running after {timeout:.0f} s; not waiting")


def _remove_tree(path: Path) -> None:
    """Delete a folder atomically: rename it aside first, so a kill mid-deletion never
    leaves a half-deleted work dir that looks resumable."""
    if not path.exists():
        return
    trash = path.with_name(f".{path.name}.deleting")
    if trash.exists():
        shutil.rmtree(trash)
    os.replace(path, trash)
    shutil.rmtree(trash)


def _prepare_work_dir(work_dir: Path, settings: dict[str, Any]) -> Path | None:
    """Return ``work_dir``'s last checkpoint if it belongs to exactly these settings;
    otherwise empty ``work_dir`` and return None.

    Only rank 0 changes ``work_dir``: the other processes of a distributed training
    reach the same answer by looking (until training starts nobody writes a
    checkpoint, so what they see cannot disagree with rank 0's decision)."""
    run_file = work_dir / "run.json"
    last = work_dir / "checkpoints" / "last.ckpt"
    wanted = json.loads(json.dumps(settings, sort_keys=True))
    try:
        same = json.loads(run_file.read_text()) == wanted
    except (FileNotFoundError, json.JSONDecodeError):
        same = False
    if same and last.exists():
        return last
    if process_rank() != 0:
        return None
    if work_dir.exists():
        print(f"[train] nothing resumable for these settings in {work_dir}; starting afresh")
    _remove_tree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_file, settings)
    return None


def train_classifier(
    *,
    net_spec: dict[str, Any],
    datamodule,
    out_dir: str | Path,
    work_dir: str | Path | None = None,
    seed: int = 0,
    max_epochs: int = 50,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    scheduler: str = "none",
    label_smoothing: float = 0.0,
    monitor: str = "val_loss",
    trainer_options: dict[str, Any] | None = None,
    class_names: list[str] | None = None,
    extra_info: dict[str, Any] | None = None,
    init_state: dict[str, Any] | None = None,
    init_id: str | None = None,
    save_probabilities: bool = False,
) -> dict[str, Any]:
    """Train ``net_spec`` on ``datamodule``, resumably; test the best checkpoint once.

    Parameters
    ----------
    net_spec : model spec for :func:`cnnpractice.models.build_model`.
    datamodule : an :class:`~cnnpractice.training.data.ArrayDataModule` (or any
        LightningDataModule with ``val_idx``).
    out_dir : where the declared outputs go (see module docstring).
    work_dir : in-progress state; default ``out_dir.parent / (out_dir.name + ".work")``.
    monitor : ``val_loss`` (minimised) or ``val_acc`` (maximised); falls back to
        the training metric when there is no validation split.
    trainer_options : ``accelerator``, ``devices``, ``precision``, ``deterministic``,
        ``progress_bar`` for :func:`build_trainer`.
    extra_info : merged into ``test.json`` (e.g. dataset and transform names).
    init_state : part of the network's ``state_dict`` loaded over the fresh
        initialisation before training (e.g. the frozen blocks of greedy
        layer-wise training); keys it has that the network lacks are an error.
    init_id : identifies ``init_state`` (e.g. the SHA-256 of the checkpoint it
        came from) in ``run.json``, so a run never resumes over changed weights.
    save_probabilities : also store the class probabilities of every test example
        (``y_prob``, (n_test, n_classes)) in ``test.json``.

    Returns
    -------
    The dict written to ``test.json``.
    """
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import TensorBoardLogger

    out_dir = Path(out_dir)
    work_dir = Path(work_dir) if work_dir else out_dir.parent / f"{out_dir.name}.work"
    if monitor not in ("val_loss", "val_acc"):
        raise ValueError(f"monitor must be 'val_loss' or 'val_acc', got {monitor!r}")
    if len(getattr(datamodule, "val_idx", [1])) == 0:
        monitor = monitor.replace("val_", "train_")
    hparams = dict(
        lr=lr, weight_decay=weight_decay, scheduler=scheduler, max_epochs=max_epochs, label_smoothing=label_smoothing
    )
    trainer_options = dict(trainer_options or {})
    fingerprint = getattr(datamodule, "fingerprint", None)
    settings = {
        "net_spec": net_spec,
        "seed": seed,
        "monitor": monitor,
        **hparams,
        "batch_size": getattr(datamodule, "batch_size", None),
        "val_fraction": getattr(datamodule, "val_fraction", None),
        "data_sha256": fingerprint() if callable(fingerprint) else None,
        # an explicit split (e.g. by subject) can change while the data stays the same
        "val_idx_sha256": hashlib.sha256(
            np.asarray(getattr(datamodule, "val_idx", []), dtype=np.int64).tobytes()
        ).hexdigest(),
        "init_id": init_id if init_state is not None else None,
        # the progress bar changes nothing computed: toggling it keeps the run resumable
        "trainer": {k: v for k, v in trainer_options.items() if k != "progress_bar"},
    }
    resume_from = _prepare_work_dir(work_dir, settings)
    if resume_from:
        print(f"[train] resuming from {resume_from}")

    pl.seed_everything(seed, workers=True)
    module = ClassificationModule(model_spec=net_spec, **hparams)
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
        max_epochs=max_epochs,
        callbacks=[history, RandomState(), best],
        logger=logger,
        **trainer_options,
    )
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
    fit_seconds = time.perf_counter() - t0
    # trainer.test(ckpt_path=...) restores callback state from that checkpoint too:
    # keep the complete history of the fit.
    rows = list(history.rows)

    best_path = best.best_model_path or str(work_dir / "checkpoints" / "last.ckpt")
    tested = trainer.test(module, datamodule=datamodule, ckpt_path=best_path, verbose=False)[0]
    out = module.test_outputs
    y, pred = out["y"].numpy(), out["pred"].numpy()
    n_classes = out["prob"].shape[1]
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    scores = np.array([row[monitor] for row in rows], dtype=float)
    # ModelCheckpoint replaces its best only on strict improvement: the first optimum wins.
    best_epoch = int(rows[int(np.nanargmin(scores) if monitor.endswith("loss") else np.nanargmax(scores))]["epoch"])
    result = {
        "test_accuracy": float((y == pred).mean()),
        "test_loss": float(tested["test_loss"]),
        "n_test": int(len(y)),
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
        "class_names": class_names,
        "confusion": confusion.tolist(),
        "y_true": y.tolist(),
        "y_pred": pred.tolist(),
        **({"y_prob": np.round(out["prob"].numpy().astype(float), 6).tolist()} if save_probabilities else {}),
        **(extra_info or {}),
    }
    if trainer.is_global_zero:  # DDP: every process tested all of the test set; rank 0 writes
        publish_run(trainer, out_dir=out_dir, work_dir=work_dir, best_path=best_path, rows=rows, result=result)
    return result


def publish_run(
    trainer: pl.Trainer,
    *,
    out_dir: Path,
    work_dir: Path,
    best_path: str | Path,
    rows: list[dict[str, float]],
    result: dict[str, Any],
) -> None:
    """Turn a finished fit's work dir into the declared outputs (rank 0 only): the best
    checkpoint, the epoch history, the TensorBoard logs and ``test.json``; then drop the
    work dir. ``test.json`` is written last, so its presence means the run is complete."""
    _wait_for_launched_processes(trainer)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.ckpt") as tmp:
        shutil.copyfile(best_path, tmp)
    write_history(out_dir / "metrics.csv", rows)
    shutil.rmtree(out_dir / "tensorboard", ignore_errors=True)
    shutil.copytree(work_dir / "tensorboard", out_dir / "tensorboard")
    write_json(out_dir / "test.json", result)
    _remove_tree(work_dir)
