# Study 5 of the talk: time series as images. Stages: UCR data (data.smk) ->
# 1D-to-2D transforms -> training (CNN on images, LSTM on raw series, pretrained
# CNN on images) -> accuracy table beside the talk's and published numbers, figures.


rule transform_series:
    input:
        train=rules.fetch_ucr.output.train,
        test=rules.fetch_ucr.output.test,
    output:
        train="results/timeseries/{dataset}/images/{image}/train.npy",
        test="results/timeseries/{dataset}/images/{image}/test.npy",
    log:
        "logs/transform_series/{dataset}/{image}.log",
    benchmark:
        "benchmarks/transform_series/{dataset}/{image}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    resources:
        **inference_resources(),
    params:
        channels=ts_image_channels,
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
        ckpt="results/timeseries/{dataset}/{ts_model}/{image}/run{rep}/model.ckpt",
        metrics="results/timeseries/{dataset}/{ts_model}/{image}/run{rep}/metrics.csv",
        result="results/timeseries/{dataset}/{ts_model}/{image}/run{rep}/test.json",
        tensorboard=directory("results/timeseries/{dataset}/{ts_model}/{image}/run{rep}/tensorboard"),
    log:
        "logs/train_timeseries/{dataset}/{ts_model}/{image}/run{rep}.log",
    benchmark:
        "benchmarks/train_timeseries/{dataset}/{ts_model}/{image}/run{rep}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=120, mem_mb=8000),
    params:
        model_params=ts_model_params,
        training=ts_training,
        trainer=trainer_settings(),
        seed=ts_seed,
    script:
        "../scripts/train_timeseries.py"


rule tabulate_timeseries:
    input:
        results=ts_results,
        reference=reference_file("timeseries"),
    output:
        csv=report(
            "results/timeseries/accuracy.csv",
            caption="../report/timeseries_accuracy.rst",
            category="Time series",
        ),
        md="results/timeseries/accuracy.md",
        runs="results/timeseries/accuracy_runs.csv",
    log:
        "logs/tabulate_timeseries.log",
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/tabulate_timeseries.py"


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
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/plot_val_curves.py"
