"""Regression beside classification: a LightningModule, a data module with float targets,
and a resumable fit + test built from the classification runner's pieces.

:class:`RegressionModule` keeps :class:`~cnnpractice.training.module.ClassificationModule`'s
network building, AdamW/cosine optimisation and checkpoint loading, and replaces the
cross-entropy step: targets are standardised (mean and std of the training targets, saved
in the checkpoint) and fitted with a mean squared error; predictions come back in the
targets' own units. :func:`train_regressor` runs it like
:func:`~cnnpractice.training.runner.train_classifier` runs a classifier (same work-dir
resume, history, random state and Trainer), with outputs ``model.ckpt``, ``metrics.csv``
(accuracy columns empty), ``test.json`` (predictions and truths) and ``tensorboard/``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from cnnpractice.training.data import ArrayDataModule
from cnnpractice.training.module import ClassificationModule
from cnnpractice.training.runner import EpochHistory, RandomState, _prepare_work_dir, build_trainer, publish_run

LOSSES = {"mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss}


class RegressionModule(ClassificationModule):
    """Least-squares training of a network with ``len(target_mean)`` outputs.

    Parameters
    ----------
    net, model_spec, lr, weight_decay, scheduler, max_epochs : as ClassificationModule.
    target_mean, target_std : per-target standardisation (the network predicts
        (y - mean) / std).
    loss : ``mse`` or ``smooth_l1`` on the standardised targets.

    Logged per epoch: ``{train,val,test}_loss``. After ``trainer.test``, :attr:`test_outputs`
    holds ``y`` and ``pred`` (N, targets) in the targets' units.
    """

    def __init__(
        self,
        net=None,
        model_spec=None,
        target_mean: Sequence[float] = (0.0,),
        target_std: Sequence[float] = (1.0,),
        loss: str = "mse",
        **kwargs,
    ):
        super().__init__(net=net, model_spec=model_spec, **kwargs)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        if len(target_mean) != len(target_std) or min(target_std) <= 0:
            raise ValueError(f"target_mean {target_mean} and target_std {target_std} must have equal lengths, std > 0")
        self.register_buffer("target_mean", torch.tensor(target_mean, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(target_std, dtype=torch.float32))

    def _shared_step(self, batch, stage: str):
        x, y = batch
        pred = self(x)
        loss = LOSSES[self.hparams.loss](pred, (y - self.target_mean) / self.target_std)
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=stage != "test",
            batch_size=len(y),
            sync_dist=True,
        )
        return loss, pred

    def test_step(self, batch, batch_idx):
        _, pred = self._shared_step(batch, "test")
        pred = pred.detach().float() * self.target_std + self.target_mean
        self._test_parts.append((batch[1].detach().cpu(), pred.cpu()))

    def on_test_epoch_end(self) -> None:
        self.test_outputs = {
            "y": torch.cat([p[0] for p in self._test_parts]),
            "pred": torch.cat([p[1] for p in self._test_parts]),
        }


class TargetArrayDataModule(ArrayDataModule):
    """:class:`ArrayDataModule` for float targets (n, k): same splits (a seeded shuffle, no
    stratification), standardisation of the inputs, loaders and fingerprint."""

    def __init__(self, x_train, t_train, x_test, t_test, **kwargs):
        super().__init__(x_train, np.zeros(len(t_train), np.int64), x_test, np.zeros(len(t_test), np.int64), **kwargs)
        self.y_train = np.asarray(t_train, dtype=np.float32)
        self.y_test = np.asarray(t_test, dtype=np.float32)

    def _dataset(self, x, y, idx=None):
        x, y = (x, y) if idx is None else (x[idx], y[idx])
        x = (np.asarray(x, dtype=np.float32) - self.mean) / self.std
        return TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y, np.float32)))


def train_regressor(
    *,
    net_spec: dict[str, Any],
    datamodule: TargetArrayDataModule,
    out_dir: str | Path,
    work_dir: str | Path | None = None,
    seed: int = 0,
    max_epochs: int = 50,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    scheduler: str = "none",
    loss: str = "mse",
    monitor: str = "val_loss",
    trainer_options: dict[str, Any] | None = None,
    target_names: Sequence[str] | None = None,
    extra_info: dict[str, Any] | None = None,
    label_smoothing: float = 0.0,
) -> dict[str, Any]:
    """Train ``net_spec`` to regress ``datamodule``'s targets, resumably; test the best
    checkpoint (lowest ``val_loss``, or ``train_loss`` without a validation split) once.

    ``label_smoothing`` (classification only) is accepted and ignored, so one training
    section of the config serves both. Returns the dict written to ``test.json``:
    ``test_loss``, ``rmse`` per target, ``y_true``/``y_pred`` lists, sizes and timing.
    """
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import TensorBoardLogger

    if monitor != "val_loss":
        raise ValueError(f"a regression is monitored by 'val_loss', got {monitor!r}")
    out_dir = Path(out_dir)
    work_dir = Path(work_dir) if work_dir else out_dir.parent / f"{out_dir.name}.work"
    monitor = "val_loss" if len(datamodule.val_idx) else "train_loss"
    targets = datamodule.y_train[datamodule.train_idx]
    hparams = dict(
        lr=lr,
        weight_decay=weight_decay,
        scheduler=scheduler,
        max_epochs=max_epochs,
        loss=loss,
        target_mean=targets.mean(axis=0).tolist(),
        target_std=np.maximum(targets.std(axis=0), 1e-6).tolist(),
    )
    trainer_options = dict(trainer_options or {})
    settings = {
        "task": "regression",
        "net_spec": net_spec,
        "seed": seed,
        "monitor": monitor,
        **hparams,
        "batch_size": datamodule.batch_size,
        "val_fraction": datamodule.val_fraction,
        "data_sha256": datamodule.fingerprint(),
        "trainer": {k: v for k, v in trainer_options.items() if k != "progress_bar"},
    }
    resume_from = _prepare_work_dir(work_dir, settings)
    pl.seed_everything(seed, workers=True)
    module = RegressionModule(model_spec=net_spec, **hparams)
    history = EpochHistory(work_dir / "metrics.csv")
    best = ModelCheckpoint(
        dirpath=work_dir / "checkpoints",
        filename="best",
        monitor=monitor,
        mode="min",
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
    rows = list(history.rows)  # testing restores the callbacks' state from the best checkpoint

    best_path = best.best_model_path or str(work_dir / "checkpoints" / "last.ckpt")
    tested = trainer.test(module, datamodule=datamodule, ckpt_path=best_path, verbose=False)[0]
    y, pred = module.test_outputs["y"].numpy(), module.test_outputs["pred"].numpy()
    scores = np.array([row[monitor] for row in rows], dtype=float)
    result = {
        "test_loss": float(tested["test_loss"]),
        "rmse": dict(zip(target_names or range(y.shape[1]), np.sqrt(((pred - y) ** 2).mean(axis=0)).tolist())),
        "target_names": list(target_names or []),
        "n_test": int(len(y)),
        "n_train": int(len(datamodule.train_idx)),
        "n_val": int(len(datamodule.val_idx)),
        "best_epoch": int(rows[int(np.nanargmin(scores))]["epoch"]),
        "epochs_run": len(rows),
        "monitor": monitor,
        "fit_seconds_this_run": round(fit_seconds, 3),
        "resumed": resume_from is not None,
        "device": str(trainer.strategy.root_device),
        "processes": trainer.world_size,
        "seed": seed,
        "y_true": y.tolist(),
        "y_pred": pred.tolist(),
        **(extra_info or {}),
    }
    if trainer.is_global_zero:
        publish_run(trainer, out_dir=out_dir, work_dir=work_dir, best_path=best_path, rows=rows, result=result)
    return result
