"""The config schema: shipped configs validate; typos and wrong values name the key."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "config" / "schema.yaml")


def load(name):
    return yaml.safe_load((ROOT / name).read_text())


def merged(base, override):
    """Snakemake's --configfile layering: nested dicts merge, other values replace."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    "layer",
    [None, "config/paper.yaml", "config/brain_null.yaml", "config/brain_age_confound.yaml", "tests/config/tiny.yaml"],
)
def test_shipped_configs_validate(layer):
    config = load("config/config.yaml")
    if layer:
        config = merged(config, load(layer))
    validate(config, SCHEMA)


def test_defaults_are_filled():
    config = {"timeseries": load("config/config.yaml")["timeseries"]}
    del config["timeseries"]["image_size"]
    validate(config, SCHEMA)
    assert config["seed"] == 42 and config["timeseries"]["image_size"] == 64


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("sed",), 1, "'sed' was unexpected"),
        (("timeseries", "imagesize"), 32, "'imagesize' was unexpected"),
        (("timeseries", "image_size"), 4, "4 is less than the minimum of 8"),
        (("timeseries", "source"), "web", "'web' is not one of"),
        (("timeseries", "training", "lr"), 0, "0 is less than or equal to the minimum"),
        (("timeseries", "training", "monitor"), "acc", "'acc' is not one of"),
        (("timeseries", "models", "cnn", "params", "width"), [8], "'width' was unexpected"),
        (("timeseries", "models", "gru"), {"enabled": True}, "'gru' was unexpected"),
        (("timeseries", "images", "bad"), ["gasf", "fft"], "'fft' is not one of"),
        (("timeseries", "transform_params", "mtf", "n_bins"), 1, "1 is less than the minimum of 2"),
        (("trainer", "accelerator"), "tpu", "'tpu' is not one of"),
        (("trainer", "devices"), 0, "0 is less than the minimum of 1"),
        (("trainer", "strategy"), "fsdp", "'fsdp' is not one of"),
        (
            ("timeseries", "transform_params", "rp", "threshold"),
            0,
            "instance['timeseries']['transform_params']['rp']['threshold']",
        ),
    ],
)
def test_bad_values_name_the_key(path, value, message):
    config = load("config/config.yaml")
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(Exception, match="Error validating config") as info:
        validate(config, SCHEMA)
    assert message in str(info.value)
    assert repr(path[-1]) in str(info.value)  # the offending key is named, by itself or in its path


@pytest.mark.parametrize(
    "path, key",
    [
        (("timeseries", "training"), "val_fraction"),
        (("timeseries", "models", "lstm", "params"), "window"),
        (("timeseries", "transform_params", "mtf"), "n_bins"),
    ],
)
def test_missing_required_key_is_named(path, key):
    config = load("config/config.yaml")
    node = config
    for part in path:
        node = node[part]
    del node[key]
    with pytest.raises(Exception, match=f"'{key}' is a required property"):
        validate(config, SCHEMA)
