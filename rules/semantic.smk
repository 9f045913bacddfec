# Study 4 of the talk: semantic embeddings. Stages: WordNet 3.0 as an nltk corpus and
# CIFAR-100 (downloads: data.smk)
# -> the networks (per seed the small-data study's checkpoint or this study's own training,
# or a torchvision ImageNet model; and their untrained twins) -> per-class mean activations
# of the configured layers -> classes mapped to WordNet -> per layer: spectral clustering
# for k = k_min..k_max, clusters named by their best-covering hypernym (the induced
# taxonomy), random-partition nulls, Mantel test -> layer representativeness table, figure.


rule prepare_cifar100:
    input:
        raw=rules.fetch_cifar100.output[0],
    output:
        train_x="resources/semantic/cifar100/train_x.npy",
        train_y="resources/semantic/cifar100/train_y.npy",
        test_x="resources/semantic/cifar100/test_x.npy",
        test_y="resources/semantic/cifar100/test_y.npy",
        classes="resources/semantic/cifar100/classes.json",
    log:
        "logs/prepare_cifar100/cifar100.log",
    benchmark:
        "benchmarks/prepare_cifar100/cifar100.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        train_per_class=SEM_DATASETS.get("cifar100", {}).get("train_per_class"),
        test_per_class=SEM_DATASETS.get("cifar100", {}).get("test_per_class"),
        seed=config["seed"],
    script:
        "../scripts/prepare_cifar100.py"


rule train_semantic:
    input:
        unpack(sem_data_inputs),
    output:
        ckpt="results/semantic/{sem_model}/network/seed{sem_seed}/model.ckpt",
        metrics="results/semantic/{sem_model}/network/seed{sem_seed}/metrics.csv",
        result="results/semantic/{sem_model}/network/seed{sem_seed}/test.json",
        tensorboard=directory("results/semantic/{sem_model}/network/seed{sem_seed}/tensorboard"),
    log:
        "logs/train_semantic/{sem_model}/seed{sem_seed}.log",
    benchmark:
        "benchmarks/train_semantic/{sem_model}/seed{sem_seed}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    threads: training_threads()
    resources:
        **training_resources(runtime_min=120, mem_mb=8000),
    params:
        dataset=sem_dataset_name,
        arch_params=sem_arch_params,
        training=sem_training,
        trainer=trainer_settings(),
        seed=sem_seed,
    script:
        "../scripts/train_semantic.py"


rule extract_semantic_activations:
    input:
        unpack(sem_extract_inputs),
    output:
        directory("results/semantic/{sem_model}/activations"),
    log:
        "logs/extract_semantic_activations/{sem_model}.log",
    benchmark:
        "benchmarks/extract_semantic_activations/{sem_model}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    # ImageNet: one thread runs the network, the others decode JPEGs (DataLoader workers)
    threads: data_threads(8)
    resources:
        **inference_resources(runtime_min=60, mem_mb=16000),
    params:
        network=sem_network,
        dataset=sem_dataset,
        layers=sem_layer_names,
        modules=sem_modules,
        seeds=SEM_SEEDS,
        untrained=SEM.get("untrained", True),
        pooling=SEM.get("pooling", "mean"),
        batch_size=SEM.get("batch_size", 256),
        accelerator=config["trainer"]["accelerator"],
    script:
        "../scripts/extract_semantic_activations.py"


rule map_semantic_classes:
    input:
        activations=rules.extract_semantic_activations.output[0],
        wordnet=rules.prepare_wordnet.output[0],
    output:
        "results/semantic/{sem_model}/wordnet.npz",
    log:
        "logs/map_semantic_classes/{sem_model}.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        dataset=sem_dataset_name,
        synsets=sem_synsets,
    script:
        "../scripts/map_semantic_classes.py"


rule induce_semantic_taxonomy:
    input:
        unpack(sem_taxonomy_inputs),
    output:
        csv=report(
            "results/semantic/{sem_model}/{sem_layer}/taxonomy.csv",
            caption="../report/semantic_taxonomy.rst",
            category="Semantic embeddings",
            subcategory="{sem_model}",
        ),
        md="results/semantic/{sem_model}/{sem_layer}/taxonomy.md",
        clusters="results/semantic/{sem_model}/{sem_layer}/clusters.csv",
        scores="results/semantic/{sem_model}/{sem_layer}/scores.json",
    log:
        "logs/induce_semantic_taxonomy/{sem_model}/{sem_layer}.log",
    benchmark:
        "benchmarks/induce_semantic_taxonomy/{sem_model}/{sem_layer}.tsv"
    conda:
        "../envs/cnnpractice.yaml"
    params:
        k_min=SEM.get("k_min", 2),
        k_max=SEM.get("k_max", 19),
        seed=config["seed"],
        qualifier_share=SEM.get("naming", {}).get("qualifier_share", 0.5),
        assign_labels=SEM.get("clustering", {}).get("assign_labels", "kmeans"),
        n_init=SEM.get("clustering", {}).get("n_init", 10),
        draws=SEM.get("nulls", {}).get("draws", 1000),
        permutations=SEM.get("nulls", {}).get("permutations", 999),
    script:
        "../scripts/induce_semantic_taxonomy.py"


rule tabulate_semantic:
    input:
        scores=sem_score_files,
    output:
        csv=report(
            "results/semantic/layers.csv",
            caption="../report/semantic_layers.rst",
            category="Semantic embeddings",
        ),
        md="results/semantic/layers.md",
        k_csv="results/semantic/layers_k.csv",
    log:
        "logs/tabulate_semantic/layers.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        layer_order=sem_layer_order(),
    script:
        "../scripts/tabulate_semantic.py"


rule plot_semantic_layers:
    input:
        scores=sem_score_files,
    output:
        report(
            "results/semantic/layers.png",
            caption="../report/semantic_layers.rst",
            category="Semantic embeddings",
        ),
    log:
        "logs/plot_semantic_layers/layers.log",
    conda:
        "../envs/cnnpractice.yaml"
    params:
        layer_order=sem_layer_order(),
    script:
        "../scripts/plot_semantic_layers.py"
