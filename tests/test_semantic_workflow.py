"""The semantic study's wiring in the workflow: where its network comes from, config errors.

(Switching it off: tests/test_workflow.py::test_disabled_study_schedules_nothing.)"""

import pytest
import yaml
from snakemake.utils import validate
from test_workflow import ROOT, copy_workflow, run


def jobs(out: str) -> dict[str, int]:
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def test_without_the_small_data_study_this_study_trains_its_own_networks(tmp_path):
    wf = copy_workflow(tmp_path)
    (wf / "own.yaml").write_text(
        "timeseries: {enabled: false}\nsmalldata: {enabled: false}\n"
        "semantic:\n  models:\n    cifar100_cnn: {enabled: true}\n"
    )
    code, out = run(["-n", "--cores", "1", "--configfile", "own.yaml"], cwd=wf)
    assert code == 0, out[-3000:]
    got = jobs(out)
    assert {
        rule: got.get(rule)
        for rule in (
            "train_semantic",
            "fetch_cifar100",
            "prepare_cifar100",
            "prepare_smalldata",
            "extract_semantic_activations",
            "induce_semantic_taxonomy",
            "train_smalldata_full",
        )
    } == {
        "train_semantic": 2 * 3,  # two models, three seeds each
        "fetch_cifar100": 1,
        "prepare_cifar100": 1,
        "prepare_smalldata": 1,
        "extract_semantic_activations": 2,
        "induce_semantic_taxonomy": 14,
        "train_smalldata_full": None,
    }
    assert "output: results/semantic/cifar100_cnn/network/seed44/model.ckpt" in out


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("semantic", "models", "fashion_cnn", "layers"), ["conv1", "network"], "should not be valid"),
        (("semantic", "models", "fashion_cnn", "dataset"), "mnist", "'mnist' is not one of"),
        (("semantic", "datasets", "fashion_mnist", "synsets", "Bag"), "bag", "does not match"),
        (("semantic", "pooling"), "median", "'median' is not one of"),
        (("semantic", "k_min"), 1, "1 is less than the minimum of 2"),
        (("semantic", "datasets", "imagenet", "rootdir"), "/x", "'rootdir' was unexpected"),
    ],
)
def test_bad_semantic_values_name_the_key(path, value, message):
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(Exception, match="Error validating config") as info:
        validate(config, str(ROOT / "config" / "schema.yaml"))
    assert message in str(info.value) and repr(path[-1]) in str(info.value)  # names the key


def test_a_workflow_model_without_its_training_settings_is_an_error(tmp_path):
    wf = copy_workflow(tmp_path)
    config = yaml.safe_load((wf / "config" / "config.yaml").read_text())
    del config["semantic"]["models"]["fashion_cnn"]["training"]
    (wf / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    code, out = run(["-n", "--cores", "1"], cwd=wf)
    assert code != 0 and "semantic.models.fashion_cnn.training is required for network 'workflow'" in out
