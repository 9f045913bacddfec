# Time-series study (rules/timeseries.smk) helpers: config -> targets and rule parameters.
# Functions only (snakemake --lint wants rules and functions in separate files);
# included by rules/common.smk.


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
    return inputs


def ts_model_params(wildcards):
    return TS["models"][wildcards.ts_model].get("params") or {}


def ts_training(wildcards):
    return merged_training(TS, wildcards.ts_model)


def ts_results(wildcards=None):
    return [f"{ts_run_dir(*run)}/test.json" for run in ts_runs()]


def ts_dataset_histories(wildcards):
    return [f"{ts_run_dir(*run)}/metrics.csv" for run in ts_runs() if run[0] == wildcards.dataset and run[3] == 0]
