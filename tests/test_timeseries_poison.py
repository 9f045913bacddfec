"""The poison test: nothing the time-series study selects reads the test split.

The selection code path (training with the checkpoint picked on validation, the
``validation.json`` summaries, the image-type choice, the transfer runs that apply it) runs
twice on a tiny dataset, the second time with the test labels permuted. Every selection
(checkpoint epoch and weights, validation numbers, chosen image type) must be the same; the
test accuracies must change, which shows the permutation reached what reads the test split.
"""

import csv
import json

import numpy as np
import pytest
import torch

from cnnpractice.io import save_npz
from cnnpractice.timeseries import stages

TRAINING = dict(
    val_fraction=0.3,
    batch_size=8,
    max_epochs=4,
    lr=0.01,
    weight_decay=0.0,
    scheduler="none",
    label_smoothing=0.0,
    monitor="val_loss",
)
MODELS = {
    "cnn": {"params": {"widths": [4, 8], "dropout": 0.0}, "training": TRAINING},
    "fcn": {"params": {"widths": [4, 8, 4]}, "training": TRAINING},
}
TRAINER = dict(accelerator="cpu", devices=1, precision="32-true", deterministic=True, progress_bar=False)
IMAGES = {"gasf": ["gasf"], "rp": ["rp"]}


def series(rng, n, length=24):
    """Two classes: a slow and a fast sine, random phase, noise."""
    y = np.arange(n) % 2
    t = np.linspace(0, 2 * np.pi, length)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    X = np.sin((1 + 2 * y[:, None]) * t + phase) + 0.6 * rng.standard_normal((n, length))
    return X.astype(np.float32), y.astype(np.int64)


def pipeline(root, y_test):
    """Transforms, default-dataset training, selection and transfer runs under ``root``."""
    rng = np.random.default_rng(0)
    X_train, y_train = series(rng, 30)
    X_test, _ = series(rng, 40)
    data = root / "data"
    data.mkdir(parents=True)
    classes = np.array(["slow", "fast"])
    save_npz(data / "train.npz", X=X_train, y=y_train, classes=classes)
    save_npz(data / "test.npz", X=X_test, y=np.asarray(y_test), classes=classes)
    stages.transform_series(
        train=str(data / "train.npz"),
        test=str(data / "test.npz"),
        out_dir=root / "images",
        images=IMAGES,
        image_size=12,
        transform_params={"rp": {"dimension": 1, "time_delay": 1}},
        accelerator="cpu",
    )
    images = [str(root / "images" / i / f"{s}.npy") for i in IMAGES for s in ("train", "test")]
    runs = [
        {"model": m, "image": i, "seed": seed, "out_dir": str(root / "runs" / m / i / f"run{seed}")}
        for m, i in (("cnn", "gasf"), ("cnn", "rp"), ("fcn", "raw"))
        for seed in (0, 1)
    ]
    common = dict(dataset="Toy", train=str(data / "train.npz"), test=str(data / "test.npz"), images=images)
    common |= dict(models=MODELS, series_length=12, trainer=TRAINER)
    stages.train_timeseries(runs=runs, **common)
    validation = [f"{r['out_dir']}/validation.json" for r in runs if r["model"] == "cnn"]
    stages.select_timeseries_image(validation=validation, candidates=["gasf", "rp"], out_json=root / "selection.json")
    transfer = [{"model": "cnn", "seed": 3, "out_dir": str(root / "transfer" / "cnn" / "run3")}]
    stages.train_timeseries_transfer(selection=str(root / "selection.json"), runs=transfer, **common)
    return [r["out_dir"] for r in runs] + [t["out_dir"] for t in transfer]


def selections(out_dir):
    """Everything a run's selection produced: the validation summary, the per-epoch training
    and validation history, the checkpoint epoch and its weights."""
    with open(f"{out_dir}/metrics.csv", newline="") as fh:
        history = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]
    result = json.loads(open(f"{out_dir}/test.json").read())
    weights = torch.load(f"{out_dir}/model.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    return {
        "validation": json.loads(open(f"{out_dir}/validation.json").read()),
        "history": history,
        "best_epoch": result["best_epoch"],
        "image": result["image"],
        "weights": {k: v.numpy().tolist() for k, v in weights.items()},
    }


@pytest.mark.slow
def test_permuting_the_test_labels_changes_no_selection(tmp_path):
    y_test = np.arange(40) % 2
    poisoned = np.random.default_rng(1).permutation(y_test)
    assert (poisoned != y_test).mean() > 0.3
    clean_runs = pipeline(tmp_path / "clean", y_test)
    poison_runs = pipeline(tmp_path / "poison", poisoned)

    clean_choice = json.loads((tmp_path / "clean" / "selection.json").read_text())
    poison_choice = json.loads((tmp_path / "poison" / "selection.json").read_text())
    assert clean_choice == poison_choice
    changed = []
    for clean, poison in zip(clean_runs, poison_runs):
        a, b = selections(clean), selections(poison)
        assert a == b, clean
        acc = [json.loads(open(f"{d}/test.json").read())["test_accuracy"] for d in (clean, poison)]
        changed.append(acc[0] != acc[1])
    assert any(changed), "permuting the test labels changed no test accuracy: the test did not test"
    transfer = json.loads(open(f"{clean_runs[-1]}/test.json").read())
    assert transfer["image"] == clean_choice["image"] and transfer["image_chosen_on"] == ["Toy"]
