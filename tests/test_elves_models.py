"""The elves CNN (both ways of seeing time) and the regression training it uses."""

import json

import numpy as np
import pytest
import torch

from cnnpractice.models import build_model
from cnnpractice.models.elves import ElvesCNN
from cnnpractice.training.data import TargetArrayDataModule
from cnnpractice.training.module import RegressionModule
from cnnpractice.training.runner import fit_and_test
from cnnpractice.training.settings import FitSettings


@pytest.mark.parametrize("mode", ["channels", "conv3d"])
@pytest.mark.parametrize("coords", [False, True])
def test_forward_shapes(mode, coords):
    net = build_model(
        {
            "name": "elves_cnn",
            "in_shape": [2, 6, 11, 60],
            "n_outputs": 3,
            "mode": mode,
            "widths": [4, 8],
            "hidden": 8,
            "pooled": [2, 3],
            "coords": coords,
        }
    )
    assert isinstance(net, ElvesCNN)
    assert net(torch.zeros(5, 2, 6, 11, 60)).shape == (5, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "lstm"}, "mode must be one of"),
        ({"in_shape": [6, 11, 60]}, "in_shape must be"),
        ({"widths": []}, "at least one conv block"),
    ],
)
def test_bad_parameters(kwargs, message):
    params = {"in_shape": [1, 6, 11, 60], "n_outputs": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        ElvesCNN(**params)


def test_wrong_input_shape_names_the_expected_one():
    net = ElvesCNN([1, 6, 11, 60], 2, widths=[4])
    with pytest.raises(ValueError, match=r"expected movies \(N, 1, 6, 11, 60\)"):
        net(torch.zeros(2, 1, 5, 11, 60))


def test_train_regressor_learns_a_linear_target_and_reloads(tmp_path):
    """Targets that are sums of the inputs: a short training gets close, test.json has the
    predictions in the targets' units, and the checkpoint reloads as a RegressionModule."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(576, 1, 2, 4, 6)).astype(np.float32)
    targets = np.stack([100 + 5 * x.sum(axis=(1, 2, 3, 4)), -5 + 2 * x[:, 0, 1].sum(axis=(1, 2))], axis=1)
    dm = TargetArrayDataModule(
        x[:480], targets[:480], x[480:], targets[480:], val_fraction=0.25, batch_size=32, seed=0, standardize="none"
    )
    spec = {
        "name": "elves_cnn",
        "in_shape": [1, 2, 4, 6],
        "n_outputs": 2,
        "widths": [8],
        "hidden": 16,
        "pooled": [4, 6],
    }
    trainer = {"accelerator": "cpu", "progress_bar": False}
    fit_and_test(
        task="regression",
        net_spec=spec,
        datamodule=dm,
        out_dir=tmp_path / "run",
        seed=0,
        fit=FitSettings(max_epochs=8, lr=0.02),
        trainer_options=trainer,
        target_names=["a", "b"],
    )
    saved = json.loads((tmp_path / "run" / "test.json").read_text())
    assert saved["n_test"] == 96 and len(saved["y_pred"]) == 96 and saved["epochs_run"] == 8
    assert saved["rmse"]["a"] < 0.4 * targets[480:, 0].std() and saved["rmse"]["b"] < 0.4 * targets[480:, 1].std()
    np.testing.assert_allclose(saved["y_true"], targets[480:], rtol=1e-6)
    module = RegressionModule.from_checkpoint(tmp_path / "run" / "model.ckpt")
    assert module.target_mean.shape == (2,) and module.hparams.loss == "mse"
    assert not (tmp_path / "run.work").exists()
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 9
    with pytest.raises(ValueError, match="monitored by 'val_loss'"):
        fit_and_test(
            task="regression", net_spec=spec, datamodule=dm, out_dir=tmp_path / "x", fit=FitSettings(monitor="val_acc")
        )
