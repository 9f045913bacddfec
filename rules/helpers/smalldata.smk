# Small-datasets study (rules/smalldata.smk) helpers: its constants, config -> rule
# parameters, smalldata_targets(), and the paths other studies read (sd_prepared_files,
# sd_l5_run: the only way the semantic study reaches this one's outputs).
# Functions only (snakemake --lint wants rules and functions in separate files);
# included by rules/common.smk.


SD = config.get("smalldata", {})
SD_ENGINEERED = ("hog", "hgd", "hcfeats")
SD_DECAF_LAYERS = list(SD.get("features", {}).get("decaf", {}).get("layers", ["fc6", "fc7"]))
SD_PREPARED = "resources/smalldata/{sd_dataset}"
SD_SCHEME = "results/smalldata/{sd_dataset}/{arch}/{kind}/seed{sd_seed}"
SD_RUN_FILES = ("model.ckpt", "metrics.csv", "test.json")
# seeds of the trainings, paired between the schemes: seed, seed + 1, ...
SD_SEEDS = [int(config["seed"]) + i for i in range(int(SD.get("seeds", 1)))]
# compute budgets of end-to-end training; the learning rate is chosen under the first
SD_BUDGETS = list(SD.get("greedy", {}).get("full_epochs", ["per_update"]))


def sd_archs():
    """Names of the enabled small-data architectures."""
    return [name for name, arch in SD.get("architectures", {}).items() if arch.get("enabled")]


def sd_dataset_config(name):
    if name not in SD.get("datasets", {}):
        raise ValueError(
            f"dataset {name!r} is not configured under smalldata.datasets ({sorted(SD.get('datasets', {}))})"
        )
    return SD["datasets"][name]


def sd_prepare_settings(wildcards):
    return sd_dataset_config(wildcards.sd_dataset)


def sd_prepared_files(dataset):
    """The prepared arrays of small-data dataset ``dataset`` (cnnpractice.data.prepared:
    train_x, train_y, test_x, test_y, classes), written by prepare_smalldata."""
    base = SD_PREPARED.format(sd_dataset=dataset)
    return {name: f"{base}/{name}.npy" for name in ("train_x", "train_y", "test_x", "test_y")} | {
        "classes": f"{base}/classes.json"
    }


def sd_scheme_dir(dataset, arch, kind, seed):
    return SD_SCHEME.format(sd_dataset=dataset, arch=arch, kind=kind, sd_seed=seed)


def sd_run_files(dataset, arch, kind, stage, seed):
    """The checkpoint (``ckpt``) and ``test.json`` (``result``: with the input
    normalisation) of the run a training job chose (learning rate and epoch on validation)
    for stage ``stage`` of ``kind`` training and ``seed``; end to end: under the first
    budget of smalldata.greedy.full_epochs."""
    parts = [sd_scheme_dir(dataset, arch, kind, seed)] + ([] if kind == "greedy" else [SD_BUDGETS[0]])
    base = os.path.join(*parts, f"L{stage}")
    return {"ckpt": os.path.join(base, "model.ckpt"), "result": os.path.join(base, "test.json")}


def sd_l5_run(dataset, arch, kind, seed):
    """sd_run_files of the L5 network of (dataset, arch, kind, seed) when this config trains
    it, else None: the study is enabled with that dataset, architecture and seed, and (kind
    full) Full L5 is among its stages."""
    if (
        not SD.get("enabled")
        or dataset not in SD.get("datasets", {})
        or arch not in sd_archs()
        or int(seed) not in SD_SEEDS
        or (kind == "full" and 5 not in sd_full_stages())
    ):
        return None
    return sd_run_files(dataset, arch, kind, 5, seed)


def sd_finetune_weights():
    """The pretrained weights file of the fine-tuned network ([] for random weights)."""
    params = SD.get("finetune", {}).get("params") or {}
    return torch_weights_path(params["arch"], params.get("weights")) if params.get("arch") else []


def sd_data_inputs(wildcards):
    return sd_prepared_files(wildcards.sd_dataset)


def sd_seed(wildcards):
    return int(wildcards.sd_seed)


def sd_arch_params(wildcards):
    if wildcards.arch not in SD.get("architectures", {}):
        raise ValueError(f"architecture {wildcards.arch!r} is not configured under smalldata.architectures")
    return SD["architectures"][wildcards.arch].get("params") or {}


def sd_training(wildcards):
    """Training settings of one architecture: the study's, then the architecture's (greedy
    stages add smalldata.greedy.stage_training.L<k>, see sd_stage_training)."""
    merged = dict(SD["training"])
    merged.update(SD["architectures"][wildcards.arch].get("training") or {})
    return merged


def sd_stage_training(wildcards=None):
    return dict(SD.get("greedy", {}).get("stage_training") or {})


def sd_lr_grid(wildcards):
    """The learning rates every stage of an architecture tries: its own lr_grid, else
    smalldata.greedy.lr_grid (empty: training.lr only)."""
    own = SD["architectures"][wildcards.arch].get("lr_grid")
    return list(own if own is not None else SD.get("greedy", {}).get("lr_grid") or [])


def sd_finetune_training(wildcards):
    merged = dict(SD["training"])
    merged.update(SD.get("finetune", {}).get("training") or {})
    return merged


def sd_engineered_params(wildcards):
    return SD["features"]["engineered"].get(wildcards.engineered) or {}


def sd_full_stages():
    return list(SD.get("greedy", {}).get("full_stages", [3, 5]))


def sd_selection_files(wildcards=None):
    """selection.json of every (dataset, architecture, scheme, seed): the choices and the
    chosen runs' test accuracies, which the greedy table reads."""
    return [
        f"{sd_scheme_dir(ds, arch, kind, seed)}/selection.json"
        for ds in SD["datasets"]
        for arch in sd_archs()
        for kind in ("greedy", "full")
        for seed in SD_SEEDS
    ]


def sd_test_labels(wildcards=None):
    """Every dataset's test labels (the tables' chance rows)."""
    return [sd_prepared_files(ds)["test_y"] for ds in SD["datasets"]]


def sd_finetune_results(wildcards=None):
    if not SD.get("finetune", {}).get("enabled"):
        return []
    return [f"results/smalldata/{ds}/finetune/test.json" for ds in SD["datasets"]]


def sd_feature_seeds():
    """Seeds whose trained networks give learned feature sets (the first features.seeds)."""
    return SD_SEEDS[: int(SD.get("features", {}).get("seeds", 1))]


def sd_feature_grids():
    return [int(g) for g in SD.get("features", {}).get("pooling", [1])]


def sd_feature_sets():
    """Names of the feature files scored by the linear classifiers (one job each): the
    engineered sets, DeCAF layers, and per (architecture, scheme, seed) one file holding
    every conv block at every pooling grid."""
    features = SD.get("features", {})
    names = [name for name in SD_ENGINEERED if name in (features.get("engineered") or {})]
    if features.get("decaf", {}).get("enabled"):
        names += [f"decaf_{layer}" for layer in SD_DECAF_LAYERS]
    learned = features.get("learned_from", [])
    if "full" in learned and 5 not in sd_full_stages():
        raise ValueError(
            "smalldata.features.learned_from names 'full', which reads the Full L5 network: "
            "add 5 to smalldata.greedy.full_stages"
        )
    names += [f"{arch}_{kind}_seed{seed}" for arch in sd_archs() for kind in learned for seed in sd_feature_seeds()]
    return names


def sd_learned_inputs(wildcards):
    """Prepared arrays and the L5 network a learned feature file comes from."""
    run = sd_run_files(wildcards.sd_dataset, wildcards.arch, wildcards.kind, 5, wildcards.sd_seed)
    return sd_data_inputs(wildcards) | run


def sd_filter_inputs(wildcards):
    """conv1 after greedy stage 1 and after the deepest Full Lk, of the first seed."""
    seed = SD_SEEDS[0]
    return {
        "greedy": sd_run_files(wildcards.sd_dataset, wildcards.arch, "greedy", 1, seed)["ckpt"],
        "full": sd_run_files(wildcards.sd_dataset, wildcards.arch, "full", max(sd_full_stages()), seed)["ckpt"],
    }


def sd_score_files(wildcards=None):
    return [f"results/smalldata/{ds}/scores/{name}.json" for ds in SD["datasets"] for name in sd_feature_sets()]


def smalldata_targets():
    """The greedy and features tables and, per dataset and architecture, the filters figure."""
    if not SD.get("enabled"):
        return []
    if not sd_archs():
        raise ValueError("smalldata.enabled is true but no architecture is enabled under smalldata.architectures")
    return [
        "results/smalldata/greedy.csv",
        "results/smalldata/greedy.md",
        "results/smalldata/features.csv",
        "results/smalldata/features.md",
        *expand("results/smalldata/{sd_dataset}/{arch}/filters.png", sd_dataset=list(SD["datasets"]), arch=sd_archs()),
    ]
