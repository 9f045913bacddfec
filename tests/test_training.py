"""Training: the Lightning module, the data module's split, and a resumable run."""

import json

import numpy as np
import pytest
import torch

from cnnpractice.training.data import ArrayDataModule, split_train_val
from cnnpractice.training.module import ClassificationModule
from cnnpractice.training.runner import build_trainer, fit_and_test
from cnnpractice.training.settings import FitSettings

CPU = {"accelerator": "cpu", "progress_bar": False}


def train_classifier(*, max_epochs=50, lr=1e-3, **kwargs):
    """The runner on a classification task with default fit settings but ``max_epochs``, ``lr``."""
    return fit_and_test(task="classification", fit=FitSettings(max_epochs=max_epochs, lr=lr), **kwargs)


def blobs(n=48, c=1, s=8, seed=0):
    """Two separable classes of small images."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = (rng.normal(size=(n, c, s, s)) + y[:, None, None, None] * 1.5).astype(np.float32)
    return x, y


SPEC = {"name": "cnn", "in_channels": 1, "n_classes": 2, "widths": [4, 8]}


def test_split_is_stratified_seeded_and_disjoint():
    y = np.repeat([0, 1, 2], [20, 10, 10])
    tr, va = split_train_val(y, 0.25, seed=3)
    tr2, va2 = split_train_val(y, 0.25, seed=3)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert not set(tr) & set(va) and len(tr) + len(va) == len(y)
    assert np.bincount(y[va]).tolist() == [5, 2, 3] or np.bincount(y[va]).tolist() == [5, 3, 2]


def test_split_without_validation():
    tr, va = split_train_val(np.array([0, 1, 0, 1]), 0.0, seed=0)
    assert len(va) == 0 and len(tr) == 4


def test_datamodule_standardizes_with_train_statistics_only():
    x, y = blobs()
    x_test = x + 100.0  # a leak of test statistics would show
    dm = ArrayDataModule(x, y, x_test, y, val_fraction=0.25, batch_size=8, seed=0)
    dm.setup()
    train_x = dm.train_set.tensors[0]
    assert abs(float(train_x.mean())) < 1e-5
    assert abs(float(train_x.std()) - 1) < 0.05
    assert float(dm.test_set.tensors[0].mean()) > 50


def test_datamodule_rejects_mismatched_lengths():
    x, y = blobs()
    with pytest.raises(ValueError, match="train: 48 inputs but 47 labels"):
        ArrayDataModule(x, y[:-1], x, y)


def test_module_fast_dev_run(tmp_path):
    x, y = blobs()
    dm = ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=8, seed=0)
    module = ClassificationModule(model_spec=SPEC)
    trainer = build_trainer(work_dir=tmp_path, max_epochs=1, fast_dev_run=True, logger=False, **CPU)
    trainer.fit(module, datamodule=dm)
    trainer.test(module, datamodule=dm, verbose=False)
    assert set(module.test_outputs) == {"y", "pred", "prob"}
    assert module.test_outputs["prob"].shape[1] == 2


def test_train_classifier_learns_and_writes_outputs(tmp_path):
    x, y = blobs()
    x_test, y_test = blobs(n=40, seed=1)  # held out: other draws of the same two classes
    dm = ArrayDataModule(x, y, x_test, y_test, val_fraction=0.25, batch_size=8, seed=0)
    result = train_classifier(
        net_spec=SPEC, datamodule=dm, out_dir=tmp_path / "run", seed=0, max_epochs=8, lr=0.01, trainer_options=CPU
    )
    assert result["test_accuracy"] > 0.9 and result["n_test"] == 40
    assert result["device"] == "cpu"
    for name in ("model.ckpt", "metrics.csv", "test.json"):
        assert (tmp_path / "run" / name).is_file()
    assert any((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents*"))
    assert not (tmp_path / "run.work").exists()
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 8 and result["epochs_run"] == 8
    saved = json.loads((tmp_path / "run" / "test.json").read_text())
    assert saved["test_accuracy"] == result["test_accuracy"]
    reloaded = ClassificationModule.from_checkpoint(tmp_path / "run" / "model.ckpt").eval()
    with torch.no_grad():
        pred = reloaded(torch.from_numpy((x_test - dm.mean) / dm.std)).argmax(1).numpy()
    assert np.array_equal(pred, np.array(saved["y_pred"]))
    # published without what only resuming needs (AdamW's moments: 2/3 of a big network's file)
    published = torch.load(tmp_path / "run" / "model.ckpt", weights_only=True)
    assert "optimizer_states" not in published and "lr_schedulers" not in published
    assert "state_dict" in published and "hyper_parameters" in published


def test_same_seed_same_result(tmp_path):
    x, y = blobs()
    results = []
    for run in ("a", "b"):
        dm = ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=8, seed=1)
        results.append(
            train_classifier(
                net_spec=SPEC, datamodule=dm, out_dir=tmp_path / run, seed=1, max_epochs=3, trainer_options=CPU
            )
        )
    assert results[0]["test_loss"] == results[1]["test_loss"]
    assert (tmp_path / "a/metrics.csv").read_text().split("seconds")[0] == (
        tmp_path / "b/metrics.csv"
    ).read_text().split("seconds")[0]


class Crash(Exception):
    pass


def train_killed_at(epoch, **kwargs):
    """Run train_classifier until a simulated kill at the end of ``epoch``, after its
    history row but before its checkpoint (checkpoint callbacks run last)."""
    from cnnpractice.training import callbacks

    original = callbacks.EpochHistory.on_train_epoch_end

    def crash(self, trainer, pl_module):
        original(self, trainer, pl_module)
        if trainer.current_epoch == epoch:
            raise Crash("killed")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(callbacks.EpochHistory, "on_train_epoch_end", crash)
        with pytest.raises(Crash):
            train_classifier(**kwargs)


def test_killed_training_resumes_from_last_checkpoint(tmp_path):
    x, y = blobs()
    make_dm = lambda: ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=8, seed=0)  # noqa: E731
    train_killed_at(
        3, net_spec=SPEC, datamodule=make_dm(), out_dir=tmp_path / "run", seed=0, max_epochs=6, trainer_options=CPU
    )
    assert (tmp_path / "run.work/checkpoints/last.ckpt").is_file()
    assert not (tmp_path / "run" / "test.json").exists()
    result = train_classifier(
        net_spec=SPEC, datamodule=make_dm(), out_dir=tmp_path / "run", seed=0, max_epochs=6, trainer_options=CPU
    )
    assert result["resumed"] is True
    resumed = read_history_rows(tmp_path / "run/metrics.csv")
    # epochs 0-2 come from the checkpoint saved before the crash; 3 is redone after resuming
    assert [r[0] for r in resumed] == ["0", "1", "2", "3", "4", "5"]

    whole = train_classifier(
        net_spec=SPEC, datamodule=make_dm(), out_dir=tmp_path / "whole", seed=0, max_epochs=6, trainer_options=CPU
    )
    assert read_history_rows(tmp_path / "whole/metrics.csv") == resumed
    assert whole["test_loss"] == result["test_loss"]


def test_killed_while_testing_finishes_without_retraining(tmp_path, monkeypatch):
    x, y = blobs()
    from cnnpractice.training.module import ClassificationModule as M

    original = M.on_test_epoch_end

    def crash(self):
        raise Crash("killed during the test")

    monkeypatch.setattr(M, "on_test_epoch_end", crash)
    with pytest.raises(Crash):
        train_classifier(
            net_spec=SPEC,
            datamodule=ArrayDataModule(x, y, x, y, seed=0),
            out_dir=tmp_path / "run",
            seed=0,
            max_epochs=3,
            trainer_options=CPU,
        )
    assert not (tmp_path / "run" / "test.json").exists()
    monkeypatch.setattr(M, "on_test_epoch_end", original)
    steps = []
    training_step = M.training_step
    monkeypatch.setattr(M, "training_step", lambda self, *a: steps.append(1) or training_step(self, *a))
    result = train_classifier(
        net_spec=SPEC,
        datamodule=ArrayDataModule(x, y, x, y, seed=0),
        out_dir=tmp_path / "run",
        seed=0,
        max_epochs=3,
        trainer_options=CPU,
    )
    assert result["resumed"] is True and result["epochs_run"] == 3
    assert steps == []  # nothing was retrained
    assert (tmp_path / "run" / "model.ckpt").is_file()


def read_history_rows(path):
    """metrics.csv rows without the wall-clock column."""
    return [line.split(",")[:-1] for line in path.read_text().splitlines()[1:]]


@pytest.mark.parametrize("change_data", [False, True])
def test_resume_only_on_unchanged_data(tmp_path, change_data):
    x, y = blobs()
    train_killed_at(
        2,
        net_spec=SPEC,
        datamodule=ArrayDataModule(x, y, x, y, seed=0),
        out_dir=tmp_path / "run",
        seed=0,
        max_epochs=4,
        trainer_options=CPU,
    )
    assert (tmp_path / "run.work/checkpoints/last.ckpt").is_file()
    x2 = x.copy()
    if change_data:
        x2[0, 0, 0, 0] += 1.0  # e.g. a transform setting changed upstream
    result = train_classifier(
        net_spec=SPEC,
        datamodule=ArrayDataModule(x2, y, x2, y, seed=0),
        out_dir=tmp_path / "run",
        seed=0,
        max_epochs=4,
        trainer_options=CPU,
    )
    assert result["resumed"] is (not change_data) and result["epochs_run"] == 4


def test_work_dir_without_run_file_is_not_resumed(tmp_path):
    """A work dir whose run.json is gone (killed mid-deletion) is never trusted."""
    x, y = blobs()
    (tmp_path / "run.work" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run.work" / "checkpoints" / "last.ckpt").write_text("from other settings")
    result = train_classifier(
        net_spec=SPEC,
        datamodule=ArrayDataModule(x, y, x, y, seed=0),
        out_dir=tmp_path / "run",
        seed=0,
        max_epochs=2,
        trainer_options=CPU,
    )
    assert result["resumed"] is False and result["epochs_run"] == 2


def test_repeats_do_not_share_shuffles():
    from cnnpractice.training.data import EpochSeededSampler

    a, b = EpochSeededSampler(20, seed=5), EpochSeededSampler(20, seed=6)
    a.set_epoch(1)
    b.set_epoch(0)
    assert list(a) != list(b)
    a2 = EpochSeededSampler(20, seed=5)
    a2.set_epoch(1)
    assert list(a) == list(a2)


def test_changed_settings_do_not_resume(tmp_path, monkeypatch):
    x, y = blobs()
    work = tmp_path / "run.work" / "checkpoints"
    work.mkdir(parents=True)
    (tmp_path / "run.work" / "run.json").write_text(json.dumps({"lr": 123}))
    (work / "last.ckpt").write_text("stale")
    dm = ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=8, seed=0)
    result = train_classifier(
        net_spec=SPEC, datamodule=dm, out_dir=tmp_path / "run", seed=0, max_epochs=2, trainer_options=CPU
    )
    assert result["resumed"] is False and result["epochs_run"] == 2


def test_vgg16_trains_one_step_without_pretrained_weights(tmp_path):
    """The talk's pretrained path (VGG16, here with random weights: no download in tests)."""
    x, y = blobs(n=16, c=3, s=32)
    dm = ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=4, seed=0)
    spec = {"name": "pretrained", "arch": "vgg16", "weights": None, "in_channels": 3, "n_classes": 2}
    module = ClassificationModule(model_spec=spec, lr=1e-4)
    before = module.net.net.classifier[-1].weight.detach().clone()
    trainer = build_trainer(work_dir=tmp_path, max_epochs=1, fast_dev_run=True, logger=False, **CPU)
    trainer.fit(module, datamodule=dm)
    assert not torch.equal(before, module.net.net.classifier[-1].weight.detach())


def test_pretrained_runner_path(tmp_path):
    """A torchvision classifier through the full resumable runner (a small one: checkpoints stay light)."""
    x, y = blobs(n=16, c=1, s=32)
    dm = ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=8, seed=0)
    spec = {"name": "pretrained", "arch": "resnet18", "weights": None, "in_channels": 1, "n_classes": 2}
    result = train_classifier(
        net_spec=spec, datamodule=dm, out_dir=tmp_path / "pre", seed=0, max_epochs=1, lr=1e-4, trainer_options=CPU
    )
    assert result["n_test"] == 16 and 0 <= result["test_accuracy"] <= 1


def test_explicit_split_replaces_the_seeded_one():
    x, y = blobs()
    dm = ArrayDataModule(x, y, x, y, batch_size=8, seed=0, split=(np.arange(10, len(y)), np.arange(10)))
    assert dm.val_idx.tolist() == list(range(10)) and dm.train_idx[0] == 10
    # statistics come from the given training part only
    assert np.allclose(dm.mean, x[10:].mean(), atol=1e-5)
    with pytest.raises(ValueError, match="overlap"):
        ArrayDataModule(x, y, x, y, split=(np.arange(0, 20), np.arange(15, 25)))
    with pytest.raises(ValueError, match="within the"):
        ArrayDataModule(x, y, x, y, split=(np.arange(0, 20), np.array([len(y) + 3])))


def test_saved_probabilities_match_the_predictions(tmp_path):
    x, y = blobs()
    dm = ArrayDataModule(x, y, x, y, val_fraction=0.25, batch_size=8, seed=0)
    result = train_classifier(
        net_spec=SPEC,
        datamodule=dm,
        out_dir=tmp_path / "run",
        seed=0,
        max_epochs=1,
        trainer_options=CPU,
        save_probabilities=True,
    )
    prob = np.array(json.loads((tmp_path / "run" / "test.json").read_text())["y_prob"])
    assert prob.shape == (len(y), 2) and np.allclose(prob.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(prob.argmax(axis=1), np.array(result["y_pred"]))


def test_corrupt_last_checkpoint_is_moved_aside_and_training_starts_afresh(tmp_path, caplog):
    """A last.ckpt cut short (a kill while it was written, a full disk) beside a run.json of
    the same settings would fail every retry: it is moved aside, named in a warning, and the
    run starts afresh."""
    x, y = blobs()
    make = lambda: dict(  # noqa: E731
        net_spec=SPEC,
        datamodule=ArrayDataModule(x, y, x, y, seed=0),
        out_dir=tmp_path / "run",
        seed=0,
        max_epochs=4,
        trainer_options=CPU,
    )
    train_killed_at(2, **make())
    last = tmp_path / "run.work" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    with caplog.at_level("WARNING", logger="cnnpractice.training"):
        result = train_classifier(**make())
    assert result["resumed"] is False and result["epochs_run"] == 4
    aside = tmp_path / "run.work.corrupt.ckpt"
    assert aside.is_file() and aside.stat().st_size < 1e6
    message = " ".join(r.getMessage() for r in caplog.records)
    assert f"{last} cannot be loaded" in message and str(aside) in message and "starts afresh" in message
    assert not (tmp_path / "run.work").exists() and (tmp_path / "run" / "test.json").is_file()


@pytest.mark.parametrize(
    "training, message",
    [
        ({"batch_size": 8, "max_epochs": 2}, r"missing keys \['val_fraction'\]"),
        ({"val_fraction": 0.2, "batch_size": 8, "lr_decay": 0.9}, r"unknown keys \['lr_decay'\]"),
        ({"val_fraction": 0.2, "batch_size": 8, "monitor": "val_f1"}, "monitor must be one of"),
        ({"val_fraction": 0.2, "batch_size": 8, "max_epochs": 2.0}, "max_epochs must be an integer"),
    ],
)
def test_training_settings_name_what_is_wrong(training, message):
    from cnnpractice.training.settings import TrainingSettings

    with pytest.raises(ValueError, match=message):
        TrainingSettings.from_config(training, key="smalldata.training")


def test_training_settings_split_data_and_fit():
    from cnnpractice.training.settings import TrainingSettings

    settings = TrainingSettings.from_config(
        {"val_fraction": 0.1, "batch_size": 16, "max_epochs": 3, "lr": 0.01, "monitor": "val_acc"}
    )
    assert (settings.val_fraction, settings.batch_size) == (0.1, 16)
    assert settings.fit == FitSettings(max_epochs=3, lr=0.01, monitor="val_acc")
    assert settings.fit.replace(max_epochs=6).max_epochs == 6 and settings.fit.max_epochs == 3


def test_progress_in_a_log_file_is_one_line_per_epoch(tmp_path, caplog, monkeypatch):
    """A job's log is a file: no progress bar there (its redraws cost CPU and read badly),
    one line per epoch instead; on a terminal, a pipe or in a notebook Lightning's bar stays."""
    from cnnpractice.training import runner
    from cnnpractice.training.callbacks import EpochLog
    from cnnpractice.training.runner import build_trainer

    x, y = blobs()
    monkeypatch.setattr(runner, "_output_is_a_file", lambda: True)
    with caplog.at_level("INFO", logger="cnnpractice.training"):
        train_classifier(
            net_spec=SPEC,
            datamodule=ArrayDataModule(x, y, x, y, seed=0),
            out_dir=tmp_path / "run",
            seed=0,
            max_epochs=2,
            trainer_options={"accelerator": "cpu", "progress_bar": True},
        )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "val_loss" in lines[0]

    monkeypatch.setattr(runner, "_output_is_a_file", lambda: False)
    on_terminal = build_trainer(work_dir=tmp_path / "t", max_epochs=1, accelerator="cpu", progress_bar=True)
    assert on_terminal.progress_bar_callback is not None
    assert not any(isinstance(c, EpochLog) for c in on_terminal.callbacks)
    off = build_trainer(work_dir=tmp_path / "o", max_epochs=1, accelerator="cpu", progress_bar=False)
    assert off.progress_bar_callback is None and not any(isinstance(c, EpochLog) for c in off.callbacks)


def test_output_is_a_file_only_for_a_regular_file(tmp_path, monkeypatch):
    """A log file counts; a pipe and a stream without a descriptor (Jupyter's) do not."""
    import io
    import os
    import sys

    from cnnpractice.training.runner import _output_is_a_file

    with open(tmp_path / "log", "w") as log:
        monkeypatch.setattr(sys, "stdout", log)
        monkeypatch.setattr(sys, "stderr", io.StringIO())
        assert _output_is_a_file()
    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        assert not _output_is_a_file()
    os.close(read)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert not _output_is_a_file()
