# Time-series study (rules/timeseries.smk) helpers: its constants, config -> rule
# parameters, and timeseries_targets(). Functions only (snakemake --lint wants rules and
# functions in separate files); included by rules/common.smk.


TS = config.get("timeseries", {})
TS_MODELS = ("cnn", "lstm", "vgg")


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
                (dataset, name, image, rep) for dataset in TS["datasets"] for rep in range(TS.get("repeats", 1))
            )
    return runs


def ts_run_dir(dataset, model, image, rep):
    return f"results/timeseries/{dataset}/{model}/{image}/run{rep}"


def ts_seed(wildcards):
    """Repeat r of a training uses seed + r (different initialisation and shuffling)."""
    return config["seed"] + int(wildcards.rep)


def ts_image_channels(wildcards):
    if wildcards.image not in TS["images"]:
        raise ValueError(
            f"image type {wildcards.image!r} is not defined under timeseries.images " f"({sorted(TS['images'])})"
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
    if wildcards.ts_model == "vgg":  # pretrained: its weights file, fetched by fetch_torch_weights
        params = TS["models"]["vgg"]["params"]
        if params.get("weights"):
            inputs["weights"] = torch_weights_path(params["arch"], params["weights"])
    return inputs


def ts_model_params(wildcards):
    return TS["models"][wildcards.ts_model].get("params") or {}


def ts_training(wildcards):
    return merged_training(TS, wildcards.ts_model)


def ts_results(wildcards=None):
    return [f"{ts_run_dir(*run)}/test.json" for run in ts_runs()]


def ts_dataset_histories(wildcards):
    return [f"{ts_run_dir(*run)}/metrics.csv" for run in ts_runs() if run[0] == wildcards.dataset and run[3] == 0]


def timeseries_targets():
    """The accuracy table and, per dataset, the transforms and validation-curve figures."""
    if not TS.get("enabled"):
        return []
    if not ts_runs():
        raise ValueError("timeseries.enabled is true but no model is enabled under timeseries.models")
    return [
        "results/timeseries/accuracy.csv",
        "results/timeseries/accuracy.md",
        *expand("results/timeseries/{dataset}/transforms.png", dataset=TS["datasets"]),
        *expand("results/timeseries/{dataset}/val_accuracy.png", dataset=TS["datasets"]),
    ]
