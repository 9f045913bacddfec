"""The time-series study's pipeline glue, accuracy table and figures."""

import csv
import json

import numpy as np
import pytest

from cnnpractice.timeseries.compare import comparison_pairs
from cnnpractice.timeseries.figures import plot_val_curves, read_history
from cnnpractice.timeseries.selection import read_validation, select_image
from cnnpractice.timeseries.tables import tabulate_accuracy
from cnnpractice.timeseries.training import check_deterministic_support, model_spec, reduce_series
from cnnpractice.training.callbacks import write_history


@pytest.mark.parametrize(
    "model, image, shape, expected",
    [
        ("cnn", "gasf", (3, 16, 16), {"name": "cnn", "in_channels": 3, "n_classes": 4}),
        ("vgg", "stack", (1, 16, 16), {"name": "pretrained", "in_channels": 1, "n_classes": 4}),
        ("lstm", "raw", (150,), {"name": "lstm", "n_classes": 4}),
        ("lstm_step", "raw", (150,), {"name": "lstm", "n_classes": 4, "window": 1}),
        ("fcn", "raw", (150,), {"name": "fcn", "n_classes": 4}),
        ("resnet", "raw", (150,), {"name": "resnet1d", "n_classes": 4}),
    ],
)
def test_model_spec(model, image, shape, expected):
    assert model_spec(model, image, {}, 4, shape) == expected


@pytest.mark.parametrize(
    "model, image, message",
    [
        ("lstm", "gasf", "image must be 'raw'"),
        ("fcn", "stack", "image must be 'raw'"),
        ("cnn", "raw", "needs images"),
        ("gru", "raw", "unknown time-series model 'gru'"),
    ],
)
def test_model_spec_errors(model, image, message):
    with pytest.raises(ValueError, match=message):
        model_spec(model, image, {}, 2, (1, 8, 8))


def fake_result(tmp_path, dataset, model, image, acc, seed=0, n_test=10, val_acc=0.5):
    """test.json and validation.json of one run whose test accuracy is ``acc`` (on a test
    split of ``n_test`` series, 7 of every 10 in class 0)."""
    run = tmp_path / dataset / model / image / f"run{seed}"
    run.mkdir(parents=True)
    y_true = [0 if i % 10 < 7 else 1 for i in range(n_test)]
    common = {"dataset": dataset, "model": model, "image": image, "seed": seed, "best_epoch": 3}
    (run / "test.json").write_text(
        json.dumps(
            common
            | {"test_accuracy": acc, "y_true": y_true, "n_test": n_test, "n_train": 5, "n_val": 2, "epochs_run": 4}
            | {"n_params": 100}
        )
    )
    (run / "validation.json").write_text(json.dumps(common | {"val_loss": 1.0 - val_acc, "val_acc": val_acc}))
    return run / "test.json", run / "validation.json"


def tabulate(tmp_path, runs, selection=None):
    results, validation = zip(*runs)
    return tabulate_accuracy(
        results=results,
        validation=validation,
        selection=selection,
        out_csv=tmp_path / "a.csv",
        out_md=tmp_path / "a.md",
        out_runs_csv=tmp_path / "runs.csv",
        out_comparisons_csv=tmp_path / "comparisons.csv",
    )


def test_accuracy_table_rows_reference_and_chance(tmp_path):
    rows = tabulate(
        tmp_path,
        [
            fake_result(tmp_path, "GunPoint", "cnn", "gasf", 0.98),
            fake_result(tmp_path, "StarLightCurves", "lstm", "raw", 0.9),
            fake_result(tmp_path, "MadeUpData", "cnn", "gasf", 0.5),
        ],
    )
    by = {(r["dataset"], r["model"]): r for r in rows}
    assert by[("GunPoint", "cnn")]["fcn"] == 1.0 and by[("MadeUpData", "cnn")]["fcn"] is None
    assert by[("StarLightCurves", "lstm")]["talk_val_accuracy"] == 0.8562
    # one chance row per dataset: the majority class (7 of 10) with its Wilson interval
    chance = by[("GunPoint", "chance")]
    assert chance["test_accuracy"] == pytest.approx(0.7) and chance["test_accuracy_n"] == 10
    assert chance["test_accuracy_ci_low"] == pytest.approx(0.3968, abs=1e-3)
    assert chance["test_accuracy_ci_high"] == pytest.approx(0.8922, abs=1e-3)
    # one run: no interval, and the cell says so
    assert by[("GunPoint", "cnn")]["test_accuracy_n"] == 1 and by[("GunPoint", "cnn")]["test_accuracy_ci_low"] is None
    with open(tmp_path / "a.csv") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [(r["dataset"], r["model"]) for r in csv_rows][:2] == [("GunPoint", "chance"), ("GunPoint", "cnn")]
    assert {"test_accuracy_ci_low", "test_accuracy_ci_high", "test_accuracy_n", "test_split_ci_low"} <= set(csv_rows[0])
    md = (tmp_path / "a.md").read_text()
    assert "| GunPoint | 0.700 [0.397, 0.892] n=10 | 0.980 (n=1, no interval) |" in md
    assert (tmp_path / "runs.csv").read_text().count("\n") == 1 + 3


def test_repeats_give_a_t_interval_clipped_to_one(tmp_path):
    runs = [fake_result(tmp_path, "GunPoint", "cnn", "gasf", a, seed=s) for s, a in enumerate([0.9, 0.95, 1.0])]
    rows = tabulate(tmp_path, runs)
    (row,) = [r for r in rows if r["model"] == "cnn"]
    assert row["test_accuracy"] == pytest.approx(0.95) and row["test_accuracy_n"] == 3
    assert row["test_accuracy_sd"] == pytest.approx(0.05)
    # mean +- t(0.975, 2) * sd / sqrt(3) = 0.95 +- 0.1242; the upper end clipped at 1
    assert row["test_accuracy_ci_low"] == pytest.approx(0.95 - 0.12421, abs=1e-4)
    assert row["test_accuracy_ci_high"] == 1.0
    # the test split's own sampling interval: Wilson of the nearest count (10 of 10) on 10 series
    assert row["test_split_ci_low"] == pytest.approx(0.7225, abs=1e-3) and row["test_split_n"] == 10
    assert "| GunPoint | 0.700 [0.397, 0.892] n=10 | 0.950 [0.826, 1.000] n=3 |" in (tmp_path / "a.md").read_text()


def write_selection(tmp_path, image):
    path = tmp_path / "selection.json"
    path.write_text(
        json.dumps({"model": "cnn", "image": image, "criterion": "x", "datasets": ["GunPoint"], "candidates": []})
    )
    return path


def test_paired_comparison_of_the_chosen_image_with_the_baselines(tmp_path):
    cnn = [0.90, 0.92, 0.94]
    fcn = [0.80, 0.83, 0.85]
    runs = [fake_result(tmp_path, "GunPoint", "cnn", "gasf", a, seed=s) for s, a in enumerate(cnn)]
    runs += [fake_result(tmp_path, "GunPoint", "cnn", "mtf", 0.5, seed=s) for s in range(3)]
    runs += [fake_result(tmp_path, "GunPoint", "fcn", "raw", a, seed=s) for s, a in enumerate(fcn)]
    rows = tabulate(tmp_path, runs, selection=write_selection(tmp_path, "gasf"))
    assert [r["selected"] for r in rows if r["model"] == "cnn"] == [True, False]
    with open(tmp_path / "comparisons.csv") as fh:
        comparisons = {(r["family"], r["a"], r["b"]): r for r in csv.DictReader(fh)}
    primary = comparisons[("primary", "cnn/gasf", "fcn/raw")]
    from scipy import stats

    assert float(primary["diff"]) == pytest.approx(np.mean(np.subtract(cnn, fcn)))
    assert float(primary["p_t"]) == pytest.approx(stats.ttest_rel(cnn, fcn).pvalue)
    assert primary["n"] == "3"
    assert ("exploratory", "cnn/mtf", "fcn/raw") in comparisons
    assert not [k for k in comparisons if k[0] in ("lstm", "rp")]  # their models did not run
    assert "Image CNN (image type chosen on validation: gasf)" in (tmp_path / "a.md").read_text()


@pytest.mark.parametrize(
    "configs, chosen, expected",
    [
        (
            ["cnn/gasf", "fcn/raw", "resnet/raw"],
            "gasf",
            [("primary", "cnn/gasf", "fcn/raw"), ("primary", "cnn/gasf", "resnet/raw")],
        ),
        (["cnn/gasf", "fcn/raw"], None, [("exploratory", "cnn/gasf", "fcn/raw")]),
        (["lstm/raw", "lstm_step/raw"], None, [("lstm", "lstm/raw", "lstm_step/raw")]),
        (["cnn/rp", "cnn/rp_binary"], "rp", [("rp", "cnn/rp_binary", "cnn/rp")]),
    ],
)
def test_comparison_families(configs, chosen, expected):
    assert comparison_pairs(configs, chosen) == expected


def test_runs_pair_by_seed_not_by_order(tmp_path):
    # exact binary fractions: the paired differences are all 0.125 (by seed, not by order)
    runs = [fake_result(tmp_path, "GunPoint", "cnn", "gasf", a, seed=s) for s, a in [(2, 0.75), (0, 0.25), (1, 0.5)]]
    runs += [
        fake_result(tmp_path, "GunPoint", "fcn", "raw", a, seed=s) for s, a in [(0, 0.125), (1, 0.375), (2, 0.625)]
    ]
    tabulate(tmp_path, runs, selection=write_selection(tmp_path, "gasf"))
    with open(tmp_path / "comparisons.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    assert float(row["diff"]) == 0.125 and float(row["d_z"]) == float("inf") and float(row["p_t"]) == 0.0


def test_accuracy_table_rejects_incomplete_result(tmp_path):
    path = tmp_path / "test.json"
    path.write_text(json.dumps({"dataset": "GunPoint", "model": "cnn"}))
    with pytest.raises(ValueError, match="missing key 'image'"):
        tabulate_accuracy(results=[path], out_csv=tmp_path / "a.csv", out_md=tmp_path / "a.md")


def validation_record(image, dataset, seed, val_acc, val_loss=0.5, model="cnn"):
    return {"dataset": dataset, "model": model, "image": image, "seed": seed, "best_epoch": 1} | {
        "val_acc": val_acc,
        "val_loss": val_loss,
    }


@pytest.mark.parametrize(
    "accs, losses, expected",
    [
        ({"gasf": 0.8, "rp": 0.9}, {"gasf": 0.1, "rp": 0.5}, "rp"),  # accuracy first
        ({"gasf": 0.9, "rp": 0.9}, {"gasf": 0.5, "rp": 0.1}, "rp"),  # tie: lower loss
        ({"gasf": 0.9, "rp": 0.9}, {"gasf": 0.3, "rp": 0.3}, "gasf"),  # tie again: config order
    ],
)
def test_image_type_is_chosen_on_validation(accs, losses, expected):
    records = [
        validation_record(image, d, s, accs[image], losses[image]) for image in accs for d in ("A", "B") for s in (0, 1)
    ]
    choice = select_image(records, ["gasf", "rp"])
    assert choice["image"] == expected and choice["datasets"] == ["A", "B"] and choice["seeds"] == [0, 1]
    assert [c["val_acc"]["n"] for c in choice["candidates"]] == [4, 4]


@pytest.mark.parametrize(
    "records, message",
    [
        ([validation_record("gasf", "A", 0, 0.9)], "cnn/rp has runs on"),
        ([validation_record("gasf", "A", 0, float("nan")), validation_record("rp", "A", 0, 0.5)], "no validation"),
        ([], "no validation records"),
    ],
)
def test_image_choice_refuses_what_cannot_be_compared(records, message):
    with pytest.raises(ValueError, match=message):
        select_image(records, ["gasf", "rp"])


def test_selection_reads_no_test_file(tmp_path):
    """The selection's inputs are validation.json files: a test.json among them is refused."""
    test_json, _ = fake_result(tmp_path, "A", "cnn", "gasf", 0.9)
    with pytest.raises(ValueError, match="missing keys"):
        read_validation([test_json])


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


def test_series_models_read_the_points_the_images_are_made_of():
    from cnnpractice.timeseries.transforms import paa

    X = np.random.default_rng(0).standard_normal((3, 150)).astype(np.float32)
    reduced = reduce_series(X, 32)
    assert reduced.shape == (3, 32) and reduced.dtype == np.float32
    np.testing.assert_allclose(reduced, paa(X.astype(np.float64), 32).numpy(), rtol=1e-6)
    assert reduce_series(X, None) is X and reduce_series(X, 150) is X and reduce_series(X, 400) is X
