"""The small-datasets study's trainings: greedy layer-wise stages, end-to-end stages and the
fine-tuning baseline, on a prepared dataset (:mod:`cnnpractice.data.prepared`).

Greedy layer-wise training (:func:`train_stage` with ``kind="greedy"``): stage k
builds blocks 1..k and a fresh head, copies blocks 1..k-1 from stage k-1's
checkpoint and freezes them, and trains block k and the head. ``kind="full"``
trains the same k-block network end to end from scratch (the talk's "Full Lk").

Epoch budget (``full_epochs``): under greedy training every parameter is
updated during exactly one stage of ``max_epochs`` epochs, so with
``"per_update"`` (the default) Full Lk also gets ``max_epochs`` epochs: both
networks' parameters receive the same number of updates. ``"total"`` gives Full
Lk ``k * max_epochs`` epochs instead, the compute greedy spent on all k stages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cnnpractice.data.prepared import load_prepared
from cnnpractice.io import sha256_file

log = logging.getLogger("cnnpractice.smalldata")
KINDS = ("greedy", "full")
FULL_EPOCHS = ("per_update", "total")


def stage_spec(
    arch_params: dict[str, Any], *, kind: str, stage: int, in_channels: int, n_classes: int, input_size: int
) -> dict[str, Any]:
    """Model spec of stage ``stage`` (1..5) of ``kind`` training for one architecture."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not 1 <= stage <= 5:
        raise ValueError(f"stage must be in 1..5, got {stage}")
    return {
        "name": "alexnet",
        **arch_params,
        "in_channels": in_channels,
        "n_classes": n_classes,
        "input_size": input_size,
        "n_blocks": stage,
        "frozen_blocks": stage - 1 if kind == "greedy" else 0,
    }


def frozen_state(previous_ckpt: str | Path, n_blocks: int) -> dict[str, Any]:
    """Weights of blocks 1..n_blocks from a checkpoint written by :func:`train_stage`."""
    import torch

    state = torch.load(previous_ckpt, map_location="cpu", weights_only=True)["state_dict"]
    wanted = tuple(f"net.blocks.{i}." for i in range(n_blocks))
    picked = {k[len("net.") :]: v for k, v in state.items() if k.startswith(wanted)}
    have = {k.split(".")[1] for k in picked}
    if len(have) != n_blocks:
        raise ValueError(
            f"{previous_ckpt}: expected conv blocks 1..{n_blocks}, found {sorted(int(b) + 1 for b in have)}"
        )
    return picked


def train_stage(
    *,
    data_dir: str | Path,
    out_dir: str | Path,
    dataset: str,
    arch: str,
    arch_params: dict[str, Any],
    kind: str,
    stage: int,
    training: dict[str, Any],
    trainer: dict[str, Any],
    seed: int,
    previous_ckpt: str | Path | None = None,
    full_epochs: str = "per_update",
) -> dict[str, Any]:
    """Train stage ``stage`` of ``kind`` training; write model.ckpt, metrics.csv, test.json."""
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    if full_epochs not in FULL_EPOCHS:
        raise ValueError(f"smalldata.greedy.full_epochs must be one of {FULL_EPOCHS}, got {full_epochs!r}")
    data = load_prepared(data_dir)
    n_classes = len(data["classes"])
    _, channels, size, _ = data["train_x"].shape
    spec = stage_spec(arch_params, kind=kind, stage=stage, in_channels=channels, n_classes=n_classes, input_size=size)
    init_state = init_id = None
    if kind == "greedy" and stage > 1:
        if previous_ckpt is None:
            raise ValueError(f"greedy stage {stage} needs stage {stage - 1}'s checkpoint")
        init_state = frozen_state(previous_ckpt, stage - 1)
        init_id = sha256_file(previous_ckpt)
    settings = TrainingSettings.from_config(training, key="smalldata.training")
    fit = settings.fit
    if kind == "full" and full_epochs == "total":
        fit = fit.replace(max_epochs=fit.max_epochs * stage)
    dm = ArrayDataModule(
        data["train_x"],
        data["train_y"],
        data["test_x"],
        data["test_y"],
        val_fraction=settings.val_fraction,
        batch_size=settings.batch_size,
        seed=seed,
        standardize="channel",
    )
    log.info(
        f"{dataset} {arch} {kind} L{stage}: {len(dm.train_idx)} train / "
        f"{len(dm.val_idx)} val / {len(data['test_y'])} test, {fit.max_epochs} epochs, spec={spec}"
    )
    result = fit_and_test(
        task="classification",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=fit,
        seed=seed,
        trainer_options=trainer,
        class_names=data["classes"],
        init_state=init_state,
        init_id=init_id,
        extra_info={
            "dataset": dataset,
            "arch": arch,
            "kind": kind,
            "stage": stage,
            "previous_ckpt_sha256": init_id,
            "normalization": {"mean": dm.mean.ravel().tolist(), "std": dm.std.ravel().tolist()},
        },
    )
    log.info(f"{dataset} {arch} {kind} L{stage}: test accuracy {result['test_accuracy']:.4f}")
    return result


def finetune(
    *,
    data_dir: str | Path,
    out_dir: str | Path,
    dataset: str,
    params: dict[str, Any],
    training: dict[str, Any],
    trainer: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """The talk's fine-tuning baseline: a torchvision (ImageNet) model, last layer replaced,
    trained on the small dataset (``params``: arch, weights, freeze_features, input_size)."""
    from cnnpractice.training.data import ArrayDataModule
    from cnnpractice.training.runner import fit_and_test
    from cnnpractice.training.settings import TrainingSettings

    data = load_prepared(data_dir)
    spec = {
        "name": "pretrained",
        "in_channels": int(data["train_x"].shape[1]),
        "n_classes": len(data["classes"]),
        **params,
    }
    settings = TrainingSettings.from_config(training, key="smalldata.finetune.training")
    dm = ArrayDataModule(
        data["train_x"],
        data["train_y"],
        data["test_x"],
        data["test_y"],
        val_fraction=settings.val_fraction,
        batch_size=settings.batch_size,
        seed=seed,
        standardize="channel",
    )
    return fit_and_test(
        task="classification",
        net_spec=spec,
        datamodule=dm,
        out_dir=out_dir,
        fit=settings.fit,
        seed=seed,
        trainer_options=trainer,
        class_names=data["classes"],
        extra_info={"dataset": dataset, "kind": "finetune", "arch": params.get("arch")},
    )
