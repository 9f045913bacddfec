# Helpers shared by every study's rules: config validation, wildcard constraints,
# and the functions that turn config into target lists and rule parameters.
import os

from snakemake.utils import validate

validate(config, "../config/schema.yaml")

# Scripts import the package from src/ even when it is not pip-installed
# (e.g. inside a --sdm conda environment or on a cluster node).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH")) if p
    )
)

TS = config.get("timeseries", {})
TS_MODELS = ("cnn", "lstm", "vgg")


wildcard_constraints:
    dataset=r"[A-Za-z][A-Za-z0-9_]*",
    image=r"[a-z][a-z0-9_]*",
    ts_model="|".join(TS_MODELS),
    rep=r"\d+",


def trainer_settings():
    """Trainer settings that change results (the progress bar does not: scripts read it
    from config directly, so toggling it reruns nothing)."""
    return {k: v for k, v in config["trainer"].items() if k != "progress_bar"}


def reference_file(study):
    """The study's published/talk numbers: an input of its table rule, so edits rerun it."""
    return os.path.join(workflow.basedir, "src", "cnnpractice", "reference", f"{study}.yaml")


def merged_training(section, model):
    """A model's training settings: the section defaults updated by the model's own."""
    merged = dict(section["training"])
    merged.update(section["models"][model].get("training") or {})
    return merged


def ts_runs():
    """(dataset, model, image, repeat) of the enabled time-series trainings."""
    runs = []
    for name, model in TS["models"].items():
        if not model.get("enabled"):
            continue
        images = ["raw"] if name == "lstm" else model["images"]
        for image in images:
            if image != "raw" and image not in TS["images"]:
                raise ValueError(
                    f"config key timeseries.models.{name}.images names {image!r}, "
                    f"which is not defined under timeseries.images ({sorted(TS['images'])})"
                )
            runs.extend(
                (dataset, name, image, rep)
                for dataset in TS["datasets"]
                for rep in range(TS.get("repeats", 1))
            )
    return runs


def ts_run_dir(dataset, model, image, rep):
    return f"results/timeseries/{dataset}/{model}/{image}/run{rep}"


def ts_seed(wildcards):
    """Repeat r of a training uses seed + r (different initialisation and shuffling)."""
    return config["seed"] + int(wildcards.rep)


def all_targets():
    targets = []
    if TS.get("enabled"):
        if not ts_runs():
            raise ValueError(
                "timeseries.enabled is true but no model is enabled under timeseries.models"
            )
        targets += [
            "results/timeseries/accuracy.csv",
            "results/timeseries/accuracy.md",
        ]
        targets += expand("results/timeseries/{dataset}/transforms.png", dataset=TS["datasets"])
        targets += expand("results/timeseries/{dataset}/val_accuracy.png", dataset=TS["datasets"])
    return targets


# Time-series study (rules/timeseries.smk)


def ts_image_channels(wildcards):
    if wildcards.image not in TS["images"]:
        raise ValueError(
            f"image type {wildcards.image!r} is not defined under timeseries.images "
            f"({sorted(TS['images'])})"
        )
    return TS["images"][wildcards.image]


def ts_train_inputs(wildcards):
    inputs = {
        "train": f"resources/timeseries/{wildcards.dataset}/train.npz",
        "test": f"resources/timeseries/{wildcards.dataset}/test.npz",
    }
    if wildcards.image != "raw":
        base = f"results/timeseries/{wildcards.dataset}/images/{wildcards.image}"
        inputs["images_train"] = f"{base}/train.npy"
        inputs["images_test"] = f"{base}/test.npy"
    return inputs


def ts_model_params(wildcards):
    return TS["models"][wildcards.ts_model].get("params") or {}


def ts_training(wildcards):
    return merged_training(TS, wildcards.ts_model)


def ts_results(wildcards=None):
    return [f"{ts_run_dir(*run)}/test.json" for run in ts_runs()]


def ts_dataset_histories(wildcards):
    return [
        f"{ts_run_dir(*run)}/metrics.csv"
        for run in ts_runs()
        if run[0] == wildcards.dataset and run[3] == 0
    ]
