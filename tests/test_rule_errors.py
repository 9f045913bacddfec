"""Each key-naming error the rules raise (rules/common.smk, rules/helpers/*.smk) stops a
dry run with its message: one `snakemake -n` per error, on a config layered over the
offline default (or a target the config does not know).

Not reachable by layering a config, so not here: `semantic.models.<m>.dataset` naming a
dataset missing under `semantic.datasets` (the default configures all three and the schema
allows no other name). brain.interpret.input/fold, smalldata.features.learned_from and a
float seed are tested in tests/test_workflow.py.
"""

import json
from pathlib import Path

import pytest
import yaml
from test_workflow import copy_workflow, run

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "config/config.yaml").read_text())
NEW_MODEL = {"enabled": True, "layers": ["conv1"]}

CASES = {
    "config_typo": (
        {"elves": {"fit": {"min_bin": 3}}},
        [],
        "config key elves.fit.min_bin: Additional properties are not allowed",
    ),
    "config_range": (
        {"brain": {"svm": {"downsample": 0}}},
        [],
        "config key brain.svm.downsample: 0 is less than the minimum of 1",
    ),
    "brain_inputs_all_null": (
        {"brain": {"inputs": {name: None for name in BASE["brain"]["inputs"]}}},
        [],
        "brain.enabled is true but every configuration under brain.inputs is null",
    ),
    "brain_unknown_input": (
        {},
        ["results/brain/slices/nosuch/x.npy"],
        "brain: no slice configuration 'nosuch' under brain.inputs",
    ),
    "elves_shard_past_the_split": (
        {},
        ["results/elves/simulated/train/shard99.npz"],
        "elves: shard 99 of split 'train' does not exist",
    ),
    "elves_locator_monitor": (
        {"elves": {"locator": {"training": {"monitor": "val_acc"}}}},
        [],
        "elves.locator.training.monitor: the locator (a regression) is monitored by val_loss",
    ),
    "semantic_unknown_model": (
        {},
        ["results/semantic/nosuch/wordnet.npz"],
        "model 'nosuch' is not configured under semantic.models",
    ),
    "semantic_workflow_network_on_imagenet": (
        {"semantic": {"models": {"fashion_cnn": {"dataset": "imagenet"}}}},
        [],
        "semantic.models.fashion_cnn: network 'workflow' needs a prepared dataset",
    ),
    "semantic_workflow_network_without_arch": (
        {"semantic": {"models": {"mine": {**NEW_MODEL, "dataset": "fashion_mnist", "network": "workflow"}}}},
        [],
        "semantic.models.mine.arch is required for network 'workflow'",
    ),
    "semantic_torchvision_without_arch": (
        {"semantic": {"models": {"mine": {**NEW_MODEL, "dataset": "imagenet", "network": "torchvision"}}}},
        [],
        "semantic.models.mine.arch is required for network 'torchvision'",
    ),
    "semantic_torchvision_on_prepared_arrays": (
        {
            "semantic": {
                "models": {"mine": {**NEW_MODEL, "dataset": "fashion_mnist", "network": "torchvision", "arch": "vgg16"}}
            }
        },
        [],
        "semantic.models.mine: a torchvision network reads ImageNet-style images",
    ),
    "semantic_no_model_enabled": (
        {"semantic": {"models": {name: {"enabled": False} for name in BASE["semantic"]["models"]}}},
        [],
        "semantic.enabled is true but no model is enabled under semantic.models",
    ),
    "smalldata_unknown_dataset": (
        {},
        ["resources/smalldata/nosuch/train_x.npy"],
        "dataset 'nosuch' is not configured under smalldata.datasets",
    ),
    "smalldata_unknown_architecture": (
        {},
        ["results/smalldata/fashion_mnist/nosuch/greedy/L1/model.ckpt"],
        "architecture 'nosuch' is not configured under smalldata.architectures",
    ),
    "smalldata_no_architecture_enabled": (
        {"smalldata": {"architectures": {name: {"enabled": False} for name in BASE["smalldata"]["architectures"]}}},
        [],
        "smalldata.enabled is true but no architecture is enabled under smalldata.architectures",
    ),
}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("rule_errors"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_level_error_names_the_key(workflow, case):
    layer, targets, message = CASES[case]
    args = ["-n", "--cores", "1", *targets]
    if layer:
        (workflow / f"{case}.yaml").write_text(json.dumps(layer))
        args += ["--configfile", f"{case}.yaml"]
    code, out = run(args, cwd=workflow)
    assert code != 0 and message in out, out[-3000:]
