"""The time-series study's pipeline glue, accuracy table and figures."""

import csv
import json

import numpy as np
import pytest

from cnnpractice.timeseries.figures import plot_val_curves, read_history
from cnnpractice.timeseries.tables import tabulate_accuracy
from cnnpractice.timeseries.training import check_deterministic_support, model_spec
from cnnpractice.training.callbacks import write_history


@pytest.mark.parametrize(
    "model, image, shape, expected",
    [
        ("cnn", "gasf", (3, 16, 16), {"name": "cnn", "in_channels": 3, "n_classes": 4}),
        ("vgg", "stack", (1, 16, 16), {"name": "pretrained", "in_channels": 1, "n_classes": 4}),
        ("lstm", "raw", (150,), {"name": "lstm", "n_classes": 4}),
    ],
)
def test_model_spec(model, image, shape, expected):
    assert model_spec(model, image, {}, 4, shape) == expected


@pytest.mark.parametrize(
    "model, image, message",
    [
        ("lstm", "gasf", "image must be 'raw'"),
        ("cnn", "raw", "needs images"),
        ("gru", "raw", "unknown time-series model 'gru'"),
    ],
)
def test_model_spec_errors(model, image, message):
    with pytest.raises(ValueError, match=message):
        model_spec(model, image, {}, 2, (1, 8, 8))


def fake_result(tmp_path, dataset, model, image, acc, seed=0):
    path = tmp_path / dataset / model / image / f"run{seed}" / "test.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "dataset": dataset,
                "model": model,
                "image": image,
                "seed": seed,
                "test_accuracy": acc,
                "n_test": 10,
                "n_train": 5,
                "n_val": 0,
                "best_epoch": 3,
                "epochs_run": 4,
            }
        )
    )
    return path


def test_accuracy_table(tmp_path):
    results = [
        fake_result(tmp_path, "GunPoint", "cnn", "gasf", 0.98),
        fake_result(tmp_path, "StarLightCurves", "lstm", "raw", 0.9),
        fake_result(tmp_path, "MadeUpData", "cnn", "gasf", 0.5),
    ]
    rows = tabulate_accuracy(
        results=results, out_csv=tmp_path / "a.csv", out_md=tmp_path / "a.md", out_runs_csv=tmp_path / "runs.csv"
    )
    by = {(r["dataset"], r["model"]): r for r in rows}
    assert by[("GunPoint", "cnn")]["fcn"] == 1.0
    assert by[("GunPoint", "cnn")]["vs_fcn"] == pytest.approx(-0.02)
    assert by[("StarLightCurves", "lstm")]["talk_val_accuracy"] == 0.8562
    assert by[("MadeUpData", "cnn")]["fcn"] is None and by[("MadeUpData", "cnn")]["vs_fcn"] is None
    with open(tmp_path / "a.csv") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [r["dataset"] for r in csv_rows] == ["GunPoint", "MadeUpData", "StarLightCurves"]
    assert csv_rows[1]["fcn"] == ""
    md = (tmp_path / "a.md").read_text()
    assert "| GunPoint | 0.980 | – | 1.000 |" in md
    assert "| MadeUpData | 0.500 | – | – |" in md
    assert (tmp_path / "runs.csv").read_text().count("\n") == 1 + 3


def test_repeats_are_averaged(tmp_path):
    results = [fake_result(tmp_path, "GunPoint", "cnn", "gasf", acc, seed=s) for s, acc in enumerate([0.9, 0.95, 1.0])]
    (row,) = tabulate_accuracy(results=results, out_csv=tmp_path / "a.csv", out_md=tmp_path / "a.md")
    assert row["runs"] == 3
    assert row["test_accuracy"] == pytest.approx(0.95)
    assert row["test_accuracy_std"] == pytest.approx(0.05)
    assert row["vs_fcn"] == pytest.approx(-0.05)
    assert "| GunPoint | 0.950 ± 0.050 |" in (tmp_path / "a.md").read_text()


def test_accuracy_table_rejects_incomplete_result(tmp_path):
    path = tmp_path / "test.json"
    path.write_text(json.dumps({"dataset": "GunPoint", "model": "cnn"}))
    with pytest.raises(ValueError, match="missing key 'image'"):
        tabulate_accuracy(results=[path], out_csv=tmp_path / "a.csv", out_md=tmp_path / "a.md")


def test_curves_figure(tmp_path):
    paths = []
    for model, image, val in (("cnn", "gasf", 0.5), ("lstm", "raw", float("nan"))):
        path = tmp_path / model / image / "run0" / "metrics.csv"
        rows = [
            {
                "epoch": e,
                "train_loss": 1.0 / (e + 1),
                "train_acc": 0.1 * e,
                "val_loss": val,
                "val_acc": val,
                "seconds": 0.1,
            }
            for e in range(5)
        ]
        write_history(path, rows)
        paths.append(str(path))
    hist = read_history(paths[0])
    assert np.array_equal(hist["epoch"], np.arange(5))
    plot_val_curves(histories=paths, out_png=tmp_path / "curves.png", dataset="X")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "name, trainer, cuda, refused",
    [
        ("pretrained", {"deterministic": True, "accelerator": "auto"}, True, True),
        ("pretrained", {"deterministic": "warn", "accelerator": "auto"}, True, False),
        ("pretrained", {"deterministic": True, "accelerator": "cpu"}, True, False),
        ("pretrained", {"deterministic": True, "accelerator": "auto"}, False, False),
        ("cnn", {"deterministic": True, "accelerator": "auto"}, True, False),
    ],
)
def test_pretrained_on_cuda_needs_nondeterministic_mode(monkeypatch, name, trainer, cuda, refused):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    if refused:
        with pytest.raises(ValueError, match="set trainer.deterministic"):
            check_deterministic_support({"name": name}, trainer)
    else:
        check_deterministic_support({"name": name}, trainer)
