"""The Lightning callbacks of every training run: the epoch history and the random state,
both carried inside every checkpoint so a resumed run ends as an uninterrupted one would."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from cnnpractice.io import atomic_path

HISTORY_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")

log = logging.getLogger("cnnpractice.training")


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


class EpochLog(pl.Callback):
    """One log line per training epoch (rank 0): the progress bar of a log file."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        values = ", ".join(f"{key} {float(metrics[key]):.4f}" for key in HISTORY_FIELDS[1:-1] if key in metrics)
        log.info(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {values}")


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


class StopOnSigterm(pl.Callback):
    """Stop at the next batch after a SIGTERM that :func:`cnnpractice.workflow.sigterm_deferred`
    noted (also one that arrived before Lightning installed its own handler): the checkpoints
    written so far are whole, and the run resumes from ``last.ckpt``."""

    @staticmethod
    def _check(*args) -> None:
        from cnnpractice.workflow import raise_if_terminated

        raise_if_terminated()

    on_train_batch_start = on_validation_batch_start = on_test_batch_start = _check
