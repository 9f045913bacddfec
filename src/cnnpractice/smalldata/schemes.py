"""Greedy layer-wise vs end-to-end training as a fair fight: one seed of one scheme.

Both schemes get the same treatment, and every choice reads validation data only
(:mod:`.selection`):

* **learning rate**: every stage (greedy Lk, Full Lk) is trained once per learning rate of
  ``lr_grid``; the run with the best validation score is kept;
* **epoch**: inside each run the training runner keeps the checkpoint of the best
  validation epoch (``training.monitor``) and tests only that one;
* **stage**: the scheme's answer is the stage (L1..L5, or Full Lk) with the best
  validation score.

Greedy stage k starts from the *chosen* stage k-1 network (blocks 1..k-1 frozen). End to
end, the learning-rate grid runs under the first compute budget of ``budgets``
(``per_update``: ``max_epochs`` per stage; ``total``: k x ``max_epochs``, the epochs the
greedy scheme spent on k stages); the other budgets reuse that stage's chosen learning
rate (a grid at k times the epochs would cost k times as much).

Layout under ``out_dir`` (one scheme, one seed)::

    selection.json                 every candidate's validation score, the choices, and
                                   the test accuracy of the chosen runs (read afterwards)
    L<k>/                          greedy: the chosen run of stage k (model.ckpt, metrics.csv, test.json)
    <budget>/L<k>/                 end to end: the chosen run of Full Lk under that budget
    .../candidates/lr<lr>/metrics.csv   the epoch history of every learning rate tried

Candidates that were not chosen keep only their ``metrics.csv``.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cnnpractice.io import write_json
from cnnpractice.smalldata.selection import best_index, lr_candidates, validation_score

log = logging.getLogger("cnnpractice.smalldata")
RUN_FILES = ("model.ckpt", "metrics.csv", "test.json")
BUDGETS = ("per_update", "total")


def _monitor(training: Mapping[str, Any], key: str) -> str:
    if float(training.get("val_fraction", 0)) <= 0:
        raise ValueError(
            f"{key}.val_fraction must be > 0: the learning rate, epoch and stage are chosen on a "
            "validation split of the training split"
        )
    return training.get("monitor", "val_loss")


def choose_lr(
    run: Callable[[float, Path], dict[str, Any]], lrs: Sequence[float], stage_dir: Path, monitor: str
) -> dict[str, Any]:
    """Train one stage once per learning rate (``run(lr, out_dir)`` -> the runner's result),
    keep the run with the best validation score in ``stage_dir`` and return the record of
    the choice (the candidates' scores, then the chosen run's test numbers)."""
    candidates = []
    for lr in lrs:
        cand_dir = stage_dir / "candidates" / f"lr{lr:g}"
        result = run(lr, cand_dir)
        score = validation_score(cand_dir / "metrics.csv", result["best_epoch"], monitor)
        candidates.append({"lr": float(lr), **score, "fit_seconds": result.get("fit_seconds_this_run")})
    chosen = best_index([c["score"] for c in candidates], monitor)  # validation only
    chosen_dir = stage_dir / "candidates" / f"lr{lrs[chosen]:g}"
    for name in RUN_FILES:
        shutil.copyfile(chosen_dir / name, stage_dir / name)
    for cand in candidates:  # keep each candidate's epoch history only
        cand_dir = stage_dir / "candidates" / f"lr{cand['lr']:g}"
        for name in ("model.ckpt", "test.json"):
            (cand_dir / name).unlink(missing_ok=True)
        shutil.rmtree(cand_dir / "tensorboard", ignore_errors=True)
    tested = json.loads((stage_dir / "test.json").read_text())
    best = candidates[chosen]
    return {
        "lr": best["lr"],
        "score": best["score"],
        "val_loss": best["val_loss"],
        "val_acc": best["val_acc"],
        "best_epoch": best["best_epoch"],
        "epochs_run": best["epochs_run"],
        "candidates": candidates,
        "test_accuracy": tested["test_accuracy"],
        "n_train": tested["n_train"],
        "n_val": tested["n_val"],
        "n_test": tested["n_test"],
    }


def choose_stage(records: Mapping[str, Mapping[str, Any]], monitor: str) -> str:
    """The stage (key of ``records``, in order) whose chosen run validates best."""
    names = list(records)
    return names[best_index([records[n]["score"] for n in names], monitor)]


def _summary(kind: str, choice: str, records: Mapping[str, Mapping[str, Any]]) -> str:
    picked = records[choice]
    return (
        f"{kind}: stage {choice} chosen on validation ({picked['score']:.4f}, lr {picked['lr']:g}, "
        f"epoch {picked['best_epoch']}); its test accuracy {picked['test_accuracy']:.4f}"
    )


def train_greedy(
    *,
    data_dir: str | Path,
    out_dir: str | Path,
    dataset: str,
    arch: str,
    arch_params: dict[str, Any],
    training: dict[str, Any],
    stage_training: Mapping[str, Mapping[str, Any]] | None,
    lr_grid: Sequence[float] | None,
    trainer: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Greedy L1..L5 of one seed: per stage the learning rate chosen on validation, then
    the stage. ``stage_training``: per-stage overrides (``{"L4": {"lr": ...}}``; a stage that
    sets ``lr`` tries only that one). Writes ``out_dir/selection.json`` and returns it."""
    common = dict(data_dir=data_dir, dataset=dataset, arch=arch, arch_params=arch_params, trainer=trainer, seed=seed)
    from cnnpractice.smalldata.training import train_stage

    out_dir = Path(out_dir)
    stage_training = dict(stage_training or {})
    monitor = _monitor(training, "smalldata.training")
    records: dict[str, dict[str, Any]] = {}
    previous = None
    for k in range(1, 6):
        override = dict(stage_training.get(f"L{k}") or {})
        settings = {**training, **override}
        monitor_k = _monitor(settings, f"smalldata.greedy.stage_training.L{k}")
        if monitor_k != monitor:
            raise ValueError(f"smalldata.greedy.stage_training.L{k}.monitor: every stage is chosen by {monitor}")
        lrs = lr_candidates(lr_grid, settings, fixed="lr" in override)

        def run(lr: float, cand_dir: Path, k=k, settings=settings, previous=previous) -> dict[str, Any]:
            return train_stage(
                **common,
                out_dir=cand_dir,
                kind="greedy",
                stage=k,
                training={**settings, "lr": lr},
                previous_ckpt=previous,
            )

        records[f"L{k}"] = choose_lr(run, lrs, out_dir / f"L{k}", monitor)
        previous = out_dir / f"L{k}" / "model.ckpt"
    choice = choose_stage(records, monitor)
    selection = {
        "dataset": dataset,
        "arch": arch,
        "kind": "greedy",
        "seed": seed,
        "monitor": monitor,
        "stages": records,
        "chosen_stage": choice,
    }
    write_json(out_dir / "selection.json", selection)
    log.info(f"{dataset} {arch} seed {seed} " + _summary("greedy", choice, records))
    return selection


def train_full(
    *,
    data_dir: str | Path,
    out_dir: str | Path,
    dataset: str,
    arch: str,
    arch_params: dict[str, Any],
    training: dict[str, Any],
    stages: Sequence[int],
    budgets: Sequence[str],
    lr_grid: Sequence[float] | None,
    trainer: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Full Lk (k in ``stages``) of one seed under every compute budget of ``budgets``: the
    learning rate chosen on validation under the first budget (reused by the others), then
    per budget the stage. Writes ``out_dir/selection.json`` and returns it."""
    common = dict(data_dir=data_dir, dataset=dataset, arch=arch, arch_params=arch_params, trainer=trainer, seed=seed)
    from cnnpractice.smalldata.training import train_stage

    out_dir = Path(out_dir)
    budgets = list(budgets)
    if not budgets or len(set(budgets)) != len(budgets) or set(budgets) - set(BUDGETS):
        raise ValueError(f"smalldata.greedy.full_epochs must list distinct budgets of {BUDGETS}, got {budgets}")
    if not stages:
        raise ValueError("smalldata.greedy.full_stages is empty: nothing to train end to end")
    monitor = _monitor(training, "smalldata.training")
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for budget in budgets:
        records[budget] = {}
        for k in sorted(stages):
            if budget == budgets[0]:
                lrs = lr_candidates(lr_grid, training)
            else:
                lrs = [records[budgets[0]][f"L{k}"]["lr"]]

            def run(lr: float, cand_dir: Path, k=k, budget=budget) -> dict[str, Any]:
                return train_stage(
                    **common,
                    out_dir=cand_dir,
                    kind="full",
                    stage=k,
                    training={**training, "lr": lr},
                    full_epochs=budget,
                )

            records[budget][f"L{k}"] = choose_lr(run, lrs, out_dir / budget / f"L{k}", monitor)
    chosen = {budget: choose_stage(records[budget], monitor) for budget in budgets}
    selection = {
        "dataset": dataset,
        "arch": arch,
        "kind": "full",
        "seed": seed,
        "monitor": monitor,
        "lr_chosen_under": budgets[0],
        "budgets": records,
        "chosen_stage": chosen,
    }
    write_json(out_dir / "selection.json", selection)
    for budget in budgets:
        log.info(f"{dataset} {arch} seed {seed} " + _summary(f"end to end ({budget})", chosen[budget], records[budget]))
    return selection
