"""Parse-time checks of the timeseries config section (cnnpractice.timeseries.checks)."""

import copy
from pathlib import Path

import pytest
import yaml

from cnnpractice.timeseries.checks import check_config, check_rp_binary

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["timeseries"]


def changed(path, value):
    ts = copy.deepcopy(DEFAULT)
    node = ts
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return ts


def test_the_shipped_default_passes():
    check_config(DEFAULT)


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("training", "val_fraction"), 0.0, "timeseries.training.val_fraction"),
        (("models", "fcn", "training"), {"val_fraction": 0.0}, "timeseries.models.fcn.training.val_fraction"),
        (("transfer", "datasets"), ["ACSF1", "GunPoint"], "timeseries.transfer.datasets ['GunPoint'] are also in"),
        (("models", "resnet", "enabled"), False, "timeseries.transfer.models ['resnet'] are not enabled"),
        (("models", "cnn", "images"), ["gasf", "gadf"], "names 'gadf', which is not defined under timeseries.images"),
        (
            ("transform_params", "rp_binary"),
            {"dimension": 1, "time_delay": 1, "threshold": 0.5, "percentage": 10},
            "timeseries.transform_params.rp_binary.percentage: 10 would be ignored",
        ),
        (
            ("transform_params", "rp_binary"),
            {"dimension": 1, "time_delay": 1, "threshold": "point", "percentage": None},
            "timeseries.transform_params.rp_binary.percentage: threshold 'point' needs a percentage",
        ),
    ],
)
def test_settings_that_would_be_ignored_or_select_on_test_are_refused(path, value, message):
    with pytest.raises(ValueError) as excinfo:
        check_config(changed(path, value))
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    "params",
    [{"threshold": "distance", "percentage": 0}, {"threshold": 1.5, "percentage": None}],
)
def test_rp_binary_settings_that_are_used_pass(params):
    check_rp_binary(params)


def test_no_model_at_all_is_refused():
    ts = copy.deepcopy(DEFAULT)
    for model in ts["models"].values():
        model["enabled"] = False
    with pytest.raises(ValueError, match="no model is enabled"):
        check_config(ts)
