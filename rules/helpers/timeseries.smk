# Time-series study (rules/timeseries.smk) helpers: its constants, config -> rule
# parameters, and timeseries_targets(). Functions only (snakemake --lint wants rules and
# functions in separate files); included by rules/common.smk.
from cnnpractice.timeseries.checks import check_config as ts_check_config  # stdlib only
from cnnpractice.timeseries.checks import enabled_models as ts_enabled_models

TS = config.get("timeseries", {})
TS_IMAGE_MODELS = ("cnn", "vgg")
# Files of one training run (fit_and_test's outputs, plus what selection may read).
TS_RUN_FILES = ("model.ckpt", "metrics.csv", "test.json", "validation.json")
if TS.get("enabled"):
    ts_check_config(TS)


def ts_transfer():
    """The transfer datasets and the models run on them (empty when there are none)."""
    transfer = TS.get("transfer") or {}
    return list(transfer.get("datasets") or []), list(transfer.get("models") or [])


def ts_seed(rep):
    """Repeat r of every model uses seed + r: the same validation split and shuffling seed,
    so the models' runs pair up by repeat."""
    return config["seed"] + int(rep)


def ts_runs():
    """(model, image, repeat) of every training on one default dataset ('raw': the series)."""
    runs = []
    for name in ts_enabled_models(TS):
        images = TS["models"][name]["images"] if name in TS_IMAGE_MODELS else ["raw"]
        runs.extend((name, image, rep) for image in images for rep in range(TS.get("repeats", 1)))
    return runs


def ts_run_dir(dataset, model, image, rep):
    return f"results/timeseries/{dataset}/{model}/{image}/run{rep}"


def ts_transfer_run_dir(dataset, model, rep):
    """A transfer run: the CNN's image type is read from the selection, so not in the path."""
    return f"results/timeseries/transfer/{dataset}/{model}/run{rep}"


def ts_run_outputs(dirs):
    """Named outputs of a training job from its run directories (wildcards escaped)."""
    return {name.split(".")[0]: [f"{d}/{name}" for d in dirs] for name in TS_RUN_FILES} | {
        "tensorboard": [directory(f"{d}/tensorboard") for d in dirs]
    }


def ts_dataset_outputs():
    return ts_run_outputs([ts_run_dir("{dataset}", *run) for run in ts_runs()])


def ts_transfer_outputs():
    return ts_run_outputs(
        [
            ts_transfer_run_dir("{dataset}", model, rep)
            for model in ts_transfer()[1]
            for rep in range(TS.get("repeats", 1))
        ]
    )


def ts_image_files(dataset):
    """{image type: {split: .npy}} of every image type under timeseries.images."""
    return {
        image: {split: f"results/timeseries/{dataset}/images/{image}/{split}.npy" for split in ("train", "test")}
        for image in TS.get("images", {})
    }


def ts_transform_outputs():
    return [path for files in ts_image_files("{dataset}").values() for path in files.values()]


def ts_train_inputs(wildcards):
    images = ts_image_files(wildcards.dataset)
    inputs = {
        "train": f"resources/timeseries/{wildcards.dataset}/train.npz",
        "test": f"resources/timeseries/{wildcards.dataset}/test.npz",
        "images": [images[i][s] for i in images for s in ("train", "test")],
    }
    if "vgg" in ts_enabled_models(TS):  # pretrained: its weights file, fetched by fetch_torch_weights
        params = TS["models"]["vgg"]["params"]
        if params.get("weights"):
            inputs["weights"] = torch_weights_path(params["arch"], params["weights"])
    return inputs


def ts_models_param(wildcards=None):
    """{model: {params, training}} of the enabled models (training: section defaults merged)."""
    return {
        name: {"params": TS["models"][name].get("params") or {}, "training": merged_training(TS, name)}
        for name in ts_enabled_models(TS)
    }


def ts_runs_param(wildcards):
    """The runs of one default-dataset job: model, image, seed and output directory."""
    return [
        {"model": m, "image": i, "seed": ts_seed(r), "out_dir": ts_run_dir(wildcards.dataset, m, i, r)}
        for m, i, r in ts_runs()
    ]


def ts_transfer_runs_param(wildcards):
    """The runs of one transfer job (the cnn's image comes from the selection)."""
    return [
        {"model": m, "seed": ts_seed(r), "out_dir": ts_transfer_run_dir(wildcards.dataset, m, r)}
        for m in ts_transfer()[1]
        for r in range(TS.get("repeats", 1))
    ]


def ts_training_runtime(n_runs):
    """Minutes a training job may take: 2 h, or 10 min per run when it trains many."""
    return max(120, 10 * n_runs)


def ts_default_files(name, model=None):
    """One file (TS_RUN_FILES) of every run on the default datasets (optionally one model's)."""
    return [f"{ts_run_dir(d, m, i, r)}/{name}" for d in TS["datasets"] for m, i, r in ts_runs() if model in (None, m)]


def ts_transfer_files(name):
    datasets, models = ts_transfer()
    return [
        f"{ts_transfer_run_dir(d, m, r)}/{name}" for d in datasets for m in models for r in range(TS.get("repeats", 1))
    ]


def ts_selection_input(wildcards=None):
    """{"selection": the image-type choice}, when there is a CNN to choose for (for unpack)."""
    return {"selection": "results/timeseries/selection.json"} if "cnn" in ts_enabled_models(TS) else {}


def ts_dataset_histories(wildcards):
    return [f"{ts_run_dir(wildcards.dataset, m, i, r)}/metrics.csv" for m, i, r in ts_runs() if r == 0]


def timeseries_targets():
    """The accuracy and transfer tables and, per default dataset, the transforms and
    validation-curve figures."""
    if not TS.get("enabled"):
        return []
    targets = [
        "results/timeseries/accuracy.csv",
        "results/timeseries/accuracy.md",
        *expand("results/timeseries/{dataset}/transforms.png", dataset=TS["datasets"]),
        *expand("results/timeseries/{dataset}/val_accuracy.png", dataset=TS["datasets"]),
    ]
    if ts_transfer()[0]:
        targets += ["results/timeseries/transfer.csv", "results/timeseries/transfer.md"]
    return targets
