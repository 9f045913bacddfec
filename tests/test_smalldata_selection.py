"""Selection on validation only: epoch, learning rate, stage and C never read the test split.

The "poison" tests run the real selection code twice, once with the test labels permuted,
and require every choice to be identical."""

import json
import math

import numpy as np
import pytest
from test_smalldata_training import TRAINER, write_prepared

from cnnpractice.smalldata import schemes, selection
from cnnpractice.smalldata.classify import evaluate_features


@pytest.mark.parametrize(
    "scores, monitor, expected",
    [
        ([0.5, 0.4, 0.45], "val_loss", 1),
        ([0.5, 0.4, 0.4], "val_loss", 1),  # ties: the first (smaller lr, shallower stage)
        ([0.5, 0.7, 0.6], "val_acc", 1),
        ([0.7, 0.7], "val_acc", 0),
        ([0.3], "val_loss", 0),
    ],
)
def test_best_index(scores, monitor, expected):
    assert selection.best_index(scores, monitor) == expected


@pytest.mark.parametrize(
    "scores, monitor, message",
    [
        ([], "val_loss", "nothing to choose from"),
        ([0.1, math.nan], "val_loss", "NaN"),
        ([0.1], "train_loss", "validation metric"),
        ([0.1], "test_loss", "validation metric"),
    ],
)
def test_best_index_refuses(scores, monitor, message):
    with pytest.raises(ValueError, match=message):
        selection.best_index(scores, monitor)


@pytest.mark.parametrize(
    "grid, training, fixed, expected",
    [
        ([0.01, 0.003, 0.01], {"lr": 1.0}, False, [0.003, 0.01]),
        ([], {"lr": 0.001}, False, [0.001]),
        (None, {"lr": 0.001}, False, [0.001]),
        ([0.01, 0.003], {"lr": 0.0005}, True, [0.0005]),
    ],
)
def test_lr_candidates(grid, training, fixed, expected):
    assert selection.lr_candidates(grid, training, fixed) == expected


def write_metrics(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["epoch,train_loss,train_acc,val_loss,val_acc,seconds"]
    lines += [f"{e},1.0,0.5,{vl},{va},0.1" for e, vl, va in rows]
    path.write_text("\n".join(lines) + "\n")


def test_validation_score_reads_the_kept_epoch(tmp_path):
    write_metrics(tmp_path / "m.csv", [(0, 1.2, 0.4), (1, 0.9, 0.6), (2, 1.0, 0.7)])
    score = selection.validation_score(tmp_path / "m.csv", 1, "val_loss")
    assert score == {"score": 0.9, "val_loss": 0.9, "val_acc": 0.6, "best_epoch": 1, "epochs_run": 3}
    assert selection.validation_score(tmp_path / "m.csv", 2, "val_acc")["score"] == 0.7
    (tmp_path / "n.csv").write_text("epoch,train_loss,train_acc,val_loss,val_acc,seconds\n0,1.0,0.5,,,0.1\n")
    with pytest.raises(ValueError, match="no val_loss; selection needs a validation split"):
        selection.validation_score(tmp_path / "n.csv", 0, "val_loss")
    with pytest.raises(ValueError, match="no row for epoch 5"):
        selection.validation_score(tmp_path / "m.csv", 5, "val_loss")


def test_choose_lr_keeps_the_best_validation_run_not_the_best_test_run(tmp_path):
    # lr 0.1 validates best; lr 0.01 tests best: the choice must be 0.1
    plan = {0.01: (0.8, 0.99), 0.1: (0.5, 0.60), 1.0: (0.9, 0.70)}

    def run(lr, out):
        val_loss, test_acc = plan[lr]
        write_metrics(out / "metrics.csv", [(0, val_loss + 0.1, 0.5), (1, val_loss, 0.6)])
        (out / "model.ckpt").write_text(f"weights {lr}")
        (out / "test.json").write_text(
            json.dumps({"test_accuracy": test_acc, "n_train": 8, "n_val": 2, "n_test": 4, "best_epoch": 1})
        )
        (out / "tensorboard").mkdir()
        return {"best_epoch": 1, "fit_seconds_this_run": 0.1}

    record = schemes.choose_lr(run, [0.01, 0.1, 1.0], tmp_path / "L1", "val_loss")
    assert record["lr"] == 0.1 and record["test_accuracy"] == 0.60 and record["score"] == 0.5
    assert [c["lr"] for c in record["candidates"]] == [0.01, 0.1, 1.0]
    assert (tmp_path / "L1" / "model.ckpt").read_text() == "weights 0.1"
    for lr in ("0.01", "0.1", "1"):  # candidates keep their epoch history only
        assert sorted(p.name for p in (tmp_path / "L1" / "candidates" / f"lr{lr}").iterdir()) == ["metrics.csv"]


def test_choose_stage_reads_the_validation_score():
    records = {"L1": {"score": 0.9}, "L2": {"score": 0.7}, "L3": {"score": 0.7}}
    assert schemes.choose_stage(records, "val_loss") == "L2"
    assert schemes.choose_stage(records, "val_acc") == "L1"


TRAINING = {
    "val_fraction": 0.25,
    "batch_size": 8,
    "max_epochs": 2,
    "lr": 0.01,
    "weight_decay": 0.0,
    "scheduler": "none",
    "label_smoothing": 0.0,
    "monitor": "val_loss",
}
ARCH = {"variant": "alexnet_simple", "geometry": "small", "width": 0.125, "dropout": 0.0}


def choices(greedy, full):
    """Everything chosen: per stage lr and epoch, the stages; and the full scheme's."""
    out = {f"greedy {k}": (r["lr"], r["best_epoch"]) for k, r in greedy["stages"].items()}
    out["greedy stage"] = greedy["chosen_stage"]
    for budget, stages in full["budgets"].items():
        out |= {f"full {budget} {k}": (r["lr"], r["best_epoch"]) for k, r in stages.items()}
    out["full stages"] = full["chosen_stage"]
    return out


def train_both(data, out):
    common = dict(data_dir=data, dataset="toy", arch="simple", arch_params=ARCH, training=TRAINING, trainer=TRAINER)
    common |= dict(lr_grid=[0.003, 0.03], seed=3)
    greedy = schemes.train_greedy(out_dir=out / "greedy", stage_training={"L4": {"lr": 0.01}}, **common)
    full = schemes.train_full(out_dir=out / "full", stages=[3, 5], budgets=["per_update", "total"], **common)
    return greedy, full


@pytest.mark.slow
def test_poison_permuting_the_test_labels_changes_no_choice(tmp_path):
    clean = write_prepared(tmp_path / "clean")
    poisoned = write_prepared(tmp_path / "poisoned")
    y = np.load(poisoned / "test_y.npy")
    np.save(poisoned / "test_y.npy", np.random.default_rng(1).permutation(y))
    assert not np.array_equal(np.load(poisoned / "test_y.npy"), y)
    a = train_both(clean, tmp_path / "a")
    b = train_both(poisoned, tmp_path / "b")
    assert choices(*a) == choices(*b)
    # the test numbers did change: the permutation reached the test split
    accuracies = [[r["test_accuracy"] for r in g["stages"].values()] for g in (a[0], b[0])]
    assert accuracies[0] != accuracies[1]
    greedy, full = a
    assert greedy["stages"]["L4"]["lr"] == 0.01 and len(greedy["stages"]["L4"]["candidates"]) == 1
    assert all(len(greedy["stages"][f"L{k}"]["candidates"]) == 2 for k in (1, 2, 3, 5))
    # total reuses the learning rate chosen under per_update and trains k times as long
    for k in ("L3", "L5"):
        assert full["budgets"]["total"][k]["lr"] == full["budgets"]["per_update"][k]["lr"]
        assert full["budgets"]["total"][k]["epochs_run"] == int(k[1]) * TRAINING["max_epochs"]
    saved = json.loads((tmp_path / "a" / "full" / "selection.json").read_text())
    assert saved["chosen_stage"] == full["chosen_stage"] and saved["lr_chosen_under"] == "per_update"
    assert (tmp_path / "a" / "full" / "total" / "L5" / "model.ckpt").is_file()


def test_poison_the_classifiers_c_is_chosen_without_the_test_labels():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20))
    y_train, y_test = np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 30)
    x_train = centres[y_train] + 1.5 * rng.normal(size=(60, 20))
    x_test = centres[y_test] + 1.5 * rng.normal(size=(90, 20))
    kwargs = dict(classifiers=("svm", "logreg"), cv_folds=3, c_grid=(0.001, 0.01, 0.1, 1.0), seed=0)
    clean = evaluate_features(x_train, y_train, x_test, y_test, **kwargs)
    poisoned = evaluate_features(x_train, y_train, x_test, rng.permutation(y_test), **kwargs)
    assert [r["best_C"] for r in clean] == [r["best_C"] for r in poisoned]
    assert [r["cv_scores"] for r in clean] == [r["cv_scores"] for r in poisoned]
    assert [r["accuracy"] for r in clean] != [r["accuracy"] for r in poisoned]
    assert len(clean[0]["cv_scores"]) == 3 and clean[0]["cv_accuracy"] == pytest.approx(np.mean(clean[0]["cv_scores"]))


def test_selection_needs_a_validation_split(tmp_path):
    with pytest.raises(ValueError, match="val_fraction must be > 0"):
        schemes.train_greedy(
            data_dir=tmp_path,
            out_dir=tmp_path / "g",
            dataset="toy",
            arch="a",
            arch_params=ARCH,
            training={**TRAINING, "val_fraction": 0.0},
            stage_training={},
            lr_grid=[0.01],
            trainer=TRAINER,
            seed=0,
        )
    with pytest.raises(ValueError, match="distinct budgets"):
        schemes.train_full(
            data_dir=tmp_path,
            out_dir=tmp_path / "f",
            dataset="toy",
            arch="a",
            arch_params=ARCH,
            training=TRAINING,
            stages=[5],
            budgets=["per_update", "twice"],
            lr_grid=[],
            trainer=TRAINER,
            seed=0,
        )
