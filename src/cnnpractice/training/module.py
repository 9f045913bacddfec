"""The LightningModules shared by every study: classification and, beside it, regression.

:class:`RegressionModule` keeps :class:`ClassificationModule`'s network building,
AdamW/cosine optimisation and checkpoint loading, and replaces the cross-entropy step:
targets are standardised (mean and std of the training targets, saved in the checkpoint)
and fitted with a mean squared error (or smooth L1); predictions come back in the targets'
own units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn as nn
import torch.nn.functional as F


class ClassificationModule(pl.LightningModule):
    """Cross-entropy training of any ``nn.Module`` that maps inputs to logits.

    Parameters
    ----------
    net : the architecture. When omitted it is built from ``model_spec``
        (see :func:`cnnpractice.models.build_model`), which is how checkpoints
        are reloaded.
    model_spec : ``{"name": ..., **kwargs}`` describing ``net``; saved in the
        checkpoint's hyperparameters.
    lr, weight_decay : AdamW settings.
    scheduler : ``"none"`` or ``"cosine"`` (cosine decay over ``max_epochs``).
    max_epochs : needed by the cosine schedule.
    label_smoothing : passed to the cross-entropy loss.

    Logged per epoch: ``{train,val,test}_loss`` and ``{train,val,test}_acc``.
    After ``trainer.test``, :attr:`test_outputs` holds ``y``, ``pred`` and
    ``prob`` (class probabilities) as CPU tensors.
    """

    def __init__(
        self,
        net: nn.Module | None = None,
        model_spec: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: str = "none",
        max_epochs: int | None = None,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        if net is None:
            if model_spec is None:
                raise ValueError("ClassificationModule needs a net or a model_spec")
            from cnnpractice.models import build_model

            net = build_model(model_spec)
        if scheduler not in ("none", "cosine"):
            raise ValueError(f"scheduler must be 'none' or 'cosine', got {scheduler!r}")
        self.net = net
        self.test_outputs: dict[str, torch.Tensor] = {}
        self._test_parts: list[tuple[torch.Tensor, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _shared_step(self, batch, stage: str):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing if stage == "train" else 0.0)
        acc = (logits.argmax(dim=1) == y).float().mean()
        # sync_dist: under DDP the epoch value is the mean over the processes' equal shards
        # (the single-process value); a no-op in one process
        self.log(
            f"{stage}_loss",
            loss,
            on_step=False,
            on_epoch=True,
            prog_bar=stage != "test",
            batch_size=len(y),
            sync_dist=True,
        )
        self.log(
            f"{stage}_acc",
            acc,
            on_step=False,
            on_epoch=True,
            prog_bar=stage != "train",
            batch_size=len(y),
            sync_dist=True,
        )
        return loss, logits

    def training_step(self, batch, batch_idx):
        return self._shared_step(batch, "train")[0]

    def validation_step(self, batch, batch_idx):
        self._shared_step(batch, "val")

    def on_test_epoch_start(self) -> None:
        self._test_parts = []

    def test_step(self, batch, batch_idx):
        _, logits = self._shared_step(batch, "test")
        self._test_parts.append((batch[1].detach().cpu(), logits.detach().float().softmax(dim=1).cpu()))

    def on_test_epoch_end(self) -> None:
        y = torch.cat([p[0] for p in self._test_parts])
        prob = torch.cat([p[1] for p in self._test_parts])
        self.test_outputs = {"y": y, "prob": prob, "pred": prob.argmax(dim=1)}

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        # fused: one kernel per step instead of a dozen passes over every parameter; the same
        # update up to float rounding (VGG16's CPU training step 1.4x faster, bench/training_efficiency.py)
        fused = all(p.device.type in ("cpu", "cuda") for p in params) or None
        opt = torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay, fused=fused)
        if self.hparams.scheduler == "cosine":
            if not self.hparams.max_epochs:
                raise ValueError("scheduler 'cosine' needs max_epochs")
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.hparams.max_epochs)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        return opt

    @classmethod
    def from_checkpoint(cls, path, map_location="cpu") -> ClassificationModule:
        """Rebuild a trained module from a checkpoint written by the workflow."""
        # tensors and plain values only: a workflow checkpoint holds nothing else
        return cls.load_from_checkpoint(path, map_location=map_location, weights_only=True)


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
