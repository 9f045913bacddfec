# Study 1 of the talk: CNNs on small datasets. Stages: raw data (data.smk) -> decoded,
# resized uint8 arrays -> greedy layer-wise training (L1..L5) and end-to-end training
# (Full Lk), one job per scheme and seed, learning rate, epoch and stage chosen on
# validation -> learned (CNN activations, pooled to grids; DeCAF) and engineered (HOG, HGD,
# HCFeats) features -> linear classifiers (C by cross-validation on the training split) ->
# tables with intervals and chance rows beside the talk's numbers, first-layer filters.


rule prepare_smalldata:
    input:
        raw=rules.fetch_smalldata.output[0],
    output:
        train_x="resources/smalldata/{sd_dataset}/train_x.npy",
        train_y="resources/smalldata/{sd_dataset}/train_y.npy",
        test_x="resources/smalldata/{sd_dataset}/test_x.npy",
        test_y="resources/smalldata/{sd_dataset}/test_y.npy",
        classes="resources/smalldata/{sd_dataset}/classes.json",
    log:
        "logs/prepare_smalldata/{sd_dataset}.log",
    benchmark:
        "benchmarks/prepare_smalldata/{sd_dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: data_threads(2)
    params:
        settings=sd_prepare_settings,
        seed=config["seed"],
    script:
        "../scripts/prepare_smalldata.py"


rule train_smalldata_greedy:
    input:
        unpack(sd_data_inputs),
    output:
        selection="results/smalldata/{sd_dataset}/{arch}/greedy/seed{sd_seed}/selection.json",
        runs=expand(
            "results/smalldata/{{sd_dataset}}/{{arch}}/greedy/seed{{sd_seed}}/L{k}/{name}",
            k=range(1, 6),
            name=SD_RUN_FILES,
        ),
    log:
        "logs/train_smalldata_greedy/{sd_dataset}/{arch}/seed{sd_seed}.log",
    benchmark:
        "benchmarks/train_smalldata_greedy/{sd_dataset}/{arch}/seed{sd_seed}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=480, mem_mb=16000),
    params:
        arch_params=sd_arch_params,
        training=sd_training,
        stage_training=sd_stage_training(),
        lr_grid=sd_lr_grid,
        trainer=trainer_settings(),
        seed=sd_seed,
    script:
        "../scripts/train_smalldata_greedy.py"


rule train_smalldata_full:
    input:
        unpack(sd_data_inputs),
    output:
        selection="results/smalldata/{sd_dataset}/{arch}/full/seed{sd_seed}/selection.json",
        runs=expand(
            "results/smalldata/{{sd_dataset}}/{{arch}}/full/seed{{sd_seed}}/{budget}/L{k}/{name}",
            budget=SD_BUDGETS,
            k=sd_full_stages(),
            name=SD_RUN_FILES,
        ),
    log:
        "logs/train_smalldata_full/{sd_dataset}/{arch}/seed{sd_seed}.log",
    benchmark:
        "benchmarks/train_smalldata_full/{sd_dataset}/{arch}/seed{sd_seed}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=480, mem_mb=16000),
    params:
        arch_params=sd_arch_params,
        training=sd_training,
        stages=sd_full_stages(),
        budgets=SD_BUDGETS,
        lr_grid=sd_lr_grid,
        trainer=trainer_settings(),
        seed=sd_seed,
    script:
        "../scripts/train_smalldata_full.py"


rule finetune_smalldata:
    input:
        unpack(sd_data_inputs),
        weights=sd_finetune_weights(),
    output:
        ckpt="results/smalldata/{sd_dataset}/finetune/model.ckpt",
        metrics="results/smalldata/{sd_dataset}/finetune/metrics.csv",
        result="results/smalldata/{sd_dataset}/finetune/test.json",
        tensorboard=directory("results/smalldata/{sd_dataset}/finetune/tensorboard"),
    log:
        "logs/finetune_smalldata/{sd_dataset}.log",
    benchmark:
        "benchmarks/finetune_smalldata/{sd_dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=240, mem_mb=16000),
    params:
        model_params=SD.get("finetune", {}).get("params", {}),
        training=sd_finetune_training,
        trainer=trainer_settings(),
        seed=config["seed"],
    script:
        "../scripts/finetune_smalldata.py"


rule extract_engineered_features:
    input:
        unpack(sd_data_inputs),
    output:
        "results/smalldata/{sd_dataset}/features/{engineered}.npz",
    log:
        "logs/extract_engineered_features/{sd_dataset}/{engineered}.log",
    benchmark:
        "benchmarks/extract_engineered_features/{sd_dataset}/{engineered}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        params=sd_engineered_params,
    script:
        "../scripts/extract_engineered_features.py"


rule extract_cnn_features:
    input:
        unpack(sd_learned_inputs),
    output:
        "results/smalldata/{sd_dataset}/features/{arch}_{kind}_seed{sd_seed}.npz",
    log:
        "logs/extract_cnn_features/{sd_dataset}/{arch}_{kind}_seed{sd_seed}.log",
    benchmark:
        "benchmarks/extract_cnn_features/{sd_dataset}/{arch}_{kind}_seed{sd_seed}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    resources:
        **inference_resources(),
    params:
        grids=sd_feature_grids(),
        accelerator=config["trainer"]["accelerator"],
    script:
        "../scripts/extract_cnn_features.py"


rule extract_decaf_features:
    input:
        unpack(sd_data_inputs),
        weights=torch_weights_path("alexnet", SD.get("features", {}).get("decaf", {}).get("weights")),
    output:
        expand("results/smalldata/{{sd_dataset}}/features/decaf_{layer}.npz", layer=SD_DECAF_LAYERS),
    log:
        "logs/extract_decaf_features/{sd_dataset}.log",
    benchmark:
        "benchmarks/extract_decaf_features/{sd_dataset}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    resources:
        **inference_resources(),
    params:
        weights=SD.get("features", {}).get("decaf", {}).get("weights"),
        layers=SD_DECAF_LAYERS,
        accelerator=config["trainer"]["accelerator"],
        seed=config["seed"],
    script:
        "../scripts/extract_decaf_features.py"


rule classify_features:
    input:
        features="results/smalldata/{sd_dataset}/features/{feature_set}.npz",
    output:
        "results/smalldata/{sd_dataset}/scores/{feature_set}.json",
    log:
        "logs/classify_features/{sd_dataset}/{feature_set}.log",
    benchmark:
        "benchmarks/classify_features/{sd_dataset}/{feature_set}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: 1
    params:
        classifiers=SD.get("features", {}).get("classifiers", ["svm", "logreg"]),
        cv_folds=SD.get("features", {}).get("cv_folds", 3),
        c_grid=SD.get("features", {}).get("c_grid", [0.01, 0.1, 1.0, 10.0]),
        seed=config["seed"],
    script:
        "../scripts/classify_features.py"


rule tabulate_smalldata:
    input:
        selections=sd_selection_files,
        finetune=sd_finetune_results,
        scores=sd_score_files,
        test_labels=sd_test_labels,
        reference=reference_file("smalldata"),
    output:
        greedy_csv=report(
            "results/smalldata/greedy.csv",
            caption="../report/smalldata_greedy.rst",
            category="Small datasets",
        ),
        greedy_md="results/smalldata/greedy.md",
        features_csv=report(
            "results/smalldata/features.csv",
            caption="../report/smalldata_features.rst",
            category="Small datasets",
        ),
        features_md="results/smalldata/features.md",
    log:
        "logs/tabulate_smalldata/tables.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        datasets=list(SD.get("datasets", {})),
    script:
        "../scripts/tabulate_smalldata.py"


rule plot_filters:
    input:
        unpack(sd_filter_inputs),
    output:
        report(
            "results/smalldata/{sd_dataset}/{arch}/filters.png",
            caption="../report/smalldata_filters.rst",
            category="Small datasets",
            subcategory="{sd_dataset}",
        ),
    log:
        "logs/plot_filters/{sd_dataset}/{arch}.log",
    conda:
        "../envs/cnnpractice.yaml"
    script:
        "../scripts/plot_filters.py"
