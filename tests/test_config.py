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


SHIPPED_LAYERS = [
    None,
    "config/paper.yaml",
    "config/brain_null.yaml",
    "config/brain_age_confound.yaml",
    "tests/config/tiny.yaml",
    "config/paper.yaml+config/rehearsal.yaml",
]


def shipped(layer):
    """config.yaml with ``layer`` on top (``a+b``: a, then b, as --configfile a b)."""
    config = load("config/config.yaml")
    for name in layer.split("+") if layer else []:
        config = merged(config, load(name))
    return config


@pytest.mark.parametrize("layer", SHIPPED_LAYERS)
def test_shipped_configs_validate(layer):
    validate(shipped(layer), SCHEMA)


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
            ("timeseries", "transform_params", "rp_binary", "threshold"),
            0,
            "instance['timeseries']['transform_params']['rp_binary']['threshold']",
        ),
        # the distance plot takes no threshold or percentage: set, they would be ignored
        (("timeseries", "transform_params", "rp", "percentage"), 10, "'percentage' was unexpected"),
        (("timeseries", "transform_params", "rp", "threshold"), "point", "'threshold' was unexpected"),
        (("timeseries", "models", "fcn", "params", "widths"), [8, 8], "is too short"),
        (("timeseries", "models", "lstm_step", "params", "window"), 8, "'window' was unexpected"),
        (("timeseries", "transfer", "models"), ["vgg"], "'vgg' is not one of"),
        (("timeseries", "series_length"), 1, "1 is less than the minimum of 2"),
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
        (("timeseries", "transform_params", "rp_binary"), "percentage"),
        (("timeseries", "models", "resnet", "params"), "widths"),
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


# --- --config values typed by the schema; floats refused where integers belong -----------
from cnnpractice.config import check_integers, coerce_overrides  # noqa: E402

SCHEMA_DICT = yaml.safe_load(Path(SCHEMA).read_text())


def overridden(override):
    """What Snakemake hands the Snakefile for ``--config``: the config file updated by the
    override, whose nested values YAML's BaseLoader left as strings."""
    config = merged(load("config/config.yaml"), override)
    changed = coerce_overrides(config, override, SCHEMA_DICT)
    return config, changed


@pytest.mark.parametrize(
    "override, path, expected",
    [
        ({"brain": {"enabled": "false"}}, ("brain", "enabled"), False),
        ({"timeseries": {"repeats": "3"}}, ("timeseries", "repeats"), 3),
        ({"timeseries": {"training": {"lr": "0.01"}}}, ("timeseries", "training", "lr"), 0.01),
        ({"timeseries": {"training": {"val_fraction": "0"}}}, ("timeseries", "training", "val_fraction"), 0),
        ({"trainer": {"deterministic": "false"}}, ("trainer", "deterministic"), False),
        ({"trainer": {"deterministic": "warn"}}, ("trainer", "deterministic"), "warn"),
        ({"trainer": {"precision": "32-true"}}, ("trainer", "precision"), "32-true"),
        ({"smalldata": {"greedy": {"full_stages": ["3", "5"]}}}, ("smalldata", "greedy", "full_stages"), [3, 5]),
        ({"timeseries": {"datasets": ["GunPoint", "Coffee"]}}, ("timeseries", "datasets"), ["GunPoint", "Coffee"]),
        (
            {"semantic": {"datasets": {"imagenet": {"root": "null"}}}},
            ("semantic", "datasets", "imagenet", "root"),
            None,
        ),
    ],
)
def test_command_line_values_are_typed_by_the_schema(override, path, expected):
    config, changed = overridden(override)
    node = config
    for key in path:
        node = node[key]
    assert node == expected and type(node) is type(expected)
    validate(config, SCHEMA)  # what failed before ("'false' is not of type 'boolean'")


def test_values_that_still_do_not_fit_are_left_for_validation_to_name():
    config, changed = overridden({"brain": {"enabled": "maybe"}})
    assert changed == [] and config["brain"]["enabled"] == "maybe"
    with pytest.raises(Exception, match="'maybe' is not of type 'boolean'"):
        validate(config, SCHEMA)


def test_file_values_are_not_touched():
    """Only the command line's values are re-read: a quoted string in a config file is a
    string the user wrote, and validation reports it."""
    config = load("config/config.yaml")
    config["brain"]["enabled"] = "false"
    assert coerce_overrides(config, {}, SCHEMA_DICT) == [] and config["brain"]["enabled"] == "false"


@pytest.mark.parametrize(
    "path, value, key",
    [
        (("seed",), 42.0, "seed"),
        (("timeseries", "repeats"), 2.0, "timeseries.repeats"),
        (("brain", "cv", "folds"), 5.0, "brain.cv.folds"),
        (("timeseries", "training", "batch_size"), 16.0, "timeseries.training.batch_size"),
        (("smalldata", "greedy", "full_stages"), [3, 5.0], r"smalldata.greedy.full_stages\[1\]"),
        (("semantic", "datasets", "cifar100", "train_per_class"), 10.0, "semantic.datasets.cifar100.train_per_class"),
    ],
)
def test_floats_where_integers_belong_are_refused_naming_the_key(path, value, key):
    config = load("config/config.yaml")
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    validate(config, SCHEMA)  # JSON Schema counts 42.0 as an integer ...
    with pytest.raises(ValueError, match=rf"config key {key}: .* is not an integer"):
        check_integers(config, SCHEMA_DICT)  # ... the workflow does not


@pytest.mark.parametrize("layer", SHIPPED_LAYERS)
def test_shipped_configs_hold_integers_where_integers_belong(layer):
    config = shipped(layer)
    validate(config, SCHEMA)
    check_integers(config, SCHEMA_DICT)


def test_defaults_are_filled_as_snakemake_validate_fills_them(tmp_path):
    """fill_defaults replaces snakemake.utils.validate in rules/common.smk: on the offline
    default and on paper.yaml layered over it, both give the same config."""
    from cnnpractice.config import fill_defaults

    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "config" / "schema.yaml").read_text())
    base = yaml.safe_load((root / "config" / "config.yaml").read_text())
    paper = yaml.safe_load((root / "config" / "paper.yaml").read_text())

    def merged(a, b):
        out = dict(a)
        for k, v in b.items():
            out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    for config in (base, merged(base, paper), {"seed": 1}):
        ours, theirs = copy.deepcopy(config), copy.deepcopy(config)
        fill_defaults(ours, schema)
        validate(theirs, str(root / "config" / "schema.yaml"))
        assert ours == theirs
    assert fill_defaults({"seed": 1}, schema) is None
