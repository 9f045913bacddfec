# Study 5 of the talk: time series as images. Stages: UCR data (data.smk) ->
# 1D-to-2D transforms -> training (CNN on images; LSTMs, FCN and ResNet on the series;
# pretrained CNN on images), one job per dataset -> the CNN's image type chosen on the
# validation parts -> accuracy table with intervals and paired tests; the same settings
# run unchanged on the transfer datasets -> transfer table; figures.


rule transform_series:
    input:
        train=rules.fetch_ucr.output.train,
        test=rules.fetch_ucr.output.test,
    output:
        ts_transform_outputs(),
    log:
        "logs/transform_series/{dataset}.log",
    benchmark:
        "benchmarks/transform_series/{dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        **inference_resources(),
    params:
        images=TS.get("images", {}),
        image_size=TS.get("image_size", 64),
        transform_params=TS.get("transform_params", {}),
        chunk_size=TS.get("chunk_size", 256),
        accelerator=config["trainer"]["accelerator"],
    script:
        "../scripts/transform_series.py"


rule plot_transforms:
    input:
        train=rules.fetch_ucr.output.train,
    output:
        report(
            "results/timeseries/{dataset}/transforms.png",
            caption="../report/timeseries_transforms.rst",
            category="Time series",
            subcategory="{dataset}",
        ),
    log:
        "logs/plot_transforms/{dataset}.log",
    benchmark:
        "benchmarks/plot_transforms/{dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        image_size=TS.get("image_size", 64),
        transform_params=TS.get("transform_params", {}),
    script:
        "../scripts/plot_transforms.py"


rule train_timeseries:
    input:
        unpack(ts_train_inputs),
    output:
        **ts_dataset_outputs(),
    log:
        "logs/train_timeseries/{dataset}.log",
    benchmark:
        "benchmarks/train_timeseries/{dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=ts_training_runtime(len(ts_runs())), mem_mb=8000),
    params:
        runs=ts_runs_param,
        models=ts_models_param(),
        series_length=TS.get("series_length"),
        trainer=trainer_settings(),
    script:
        "../scripts/train_timeseries.py"


rule select_timeseries_image:
    input:
        validation=ts_default_files("validation.json", model="cnn"),
    output:
        "results/timeseries/selection.json",
    log:
        "logs/select_timeseries_image.log",
    benchmark:
        "benchmarks/select_timeseries_image.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        candidates=TS.get("models", {}).get("cnn", {}).get("images", []),
    script:
        "../scripts/select_timeseries_image.py"


rule tabulate_timeseries:
    input:
        unpack(ts_selection_input),
        results=ts_default_files("test.json"),
        validation=ts_default_files("validation.json"),
        reference=reference_file("timeseries"),
    output:
        csv=report(
            "results/timeseries/accuracy.csv",
            caption="../report/timeseries_accuracy.rst",
            category="Time series",
        ),
        md="results/timeseries/accuracy.md",
        runs="results/timeseries/accuracy_runs.csv",
        comparisons="results/timeseries/comparisons.csv",
    log:
        "logs/tabulate_timeseries.log",
    benchmark:
        "benchmarks/tabulate_timeseries.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/tabulate_timeseries.py"


rule train_timeseries_transfer:
    input:
        unpack(ts_train_inputs),
        unpack(ts_selection_input),
    output:
        **ts_transfer_outputs(),
    log:
        "logs/train_timeseries_transfer/{dataset}.log",
    benchmark:
        "benchmarks/train_timeseries_transfer/{dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=ts_training_runtime(len(ts_transfer_files("test.json"))), mem_mb=8000),
    params:
        runs=ts_transfer_runs_param,
        models=ts_models_param(),
        series_length=TS.get("series_length"),
        trainer=trainer_settings(),
    script:
        "../scripts/train_timeseries_transfer.py"


rule tabulate_timeseries_transfer:
    input:
        unpack(ts_selection_input),
        results=ts_transfer_files("test.json"),
        validation=ts_transfer_files("validation.json"),
        reference=reference_file("timeseries"),
    output:
        csv=report(
            "results/timeseries/transfer.csv",
            caption="../report/timeseries_transfer.rst",
            category="Time series",
        ),
        md="results/timeseries/transfer.md",
        runs="results/timeseries/transfer_runs.csv",
        comparisons="results/timeseries/transfer_comparisons.csv",
    log:
        "logs/tabulate_timeseries_transfer.log",
    benchmark:
        "benchmarks/tabulate_timeseries_transfer.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/tabulate_timeseries_transfer.py"


rule plot_val_curves:
    input:
        histories=ts_dataset_histories,
    output:
        report(
            "results/timeseries/{dataset}/val_accuracy.png",
            caption="../report/timeseries_curves.rst",
            category="Time series",
            subcategory="{dataset}",
        ),
    log:
        "logs/plot_val_curves/{dataset}.log",
    benchmark:
        "benchmarks/plot_val_curves/{dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/plot_val_curves.py"
