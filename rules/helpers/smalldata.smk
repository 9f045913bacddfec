# Small-datasets study (rules/smalldata.smk) helpers: its constants, config -> rule
# parameters, smalldata_targets(), and the paths other studies read (sd_prepared_files,
# sd_l5_run: the only way the semantic study reaches this one's outputs).
# Functions only (snakemake --lint wants rules and functions in separate files);
# included by rules/common.smk.


SD = config.get("smalldata", {})
SD_ENGINEERED = ("hog", "hgd", "hcfeats")
SD_DECAF_LAYERS = list(SD.get("features", {}).get("decaf", {}).get("layers", ["fc6", "fc7"]))
SD_PREPARED = "resources/smalldata/{sd_dataset}"
SD_RUN = "results/smalldata/{sd_dataset}/{arch}/{kind}/L{stage}"


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


def sd_run_files(dataset, arch, kind, stage):
    """The checkpoint (``ckpt``) and ``test.json`` (``result``: with the input
    normalisation) of one training run, as train_smalldata writes them."""
    base = SD_RUN.format(sd_dataset=dataset, arch=arch, kind=kind, stage=stage)
    return {"ckpt": f"{base}/model.ckpt", "result": f"{base}/test.json"}


def sd_l5_run(dataset, arch, kind):
    """sd_run_files of the L5 network of (dataset, arch, kind) when this config trains it,
    else None: the study is enabled with that dataset and architecture, and (kind full)
    Full L5 is among its stages."""
    if (
        not SD.get("enabled")
        or dataset not in SD.get("datasets", {})
        or arch not in sd_archs()
        or (kind == "full" and 5 not in sd_full_stages())
    ):
        return None
    return sd_run_files(dataset, arch, kind, 5)


def sd_finetune_weights():
    """The pretrained weights file of the fine-tuned network ([] for random weights)."""
    params = SD.get("finetune", {}).get("params") or {}
    return torch_weights_path(params["arch"], params.get("weights")) if params.get("arch") else []


def sd_data_inputs(wildcards):
    return sd_prepared_files(wildcards.sd_dataset)


def sd_train_inputs(wildcards):
    """Prepared data, plus stage k-1's checkpoint for greedy stage k > 1."""
    inputs = sd_data_inputs(wildcards)
    stage = int(wildcards.stage)
    if wildcards.kind == "greedy" and stage > 1:
        inputs["previous"] = sd_run_files(wildcards.sd_dataset, wildcards.arch, "greedy", stage - 1)["ckpt"]
    return inputs


def sd_arch_params(wildcards):
    if wildcards.arch not in SD.get("architectures", {}):
        raise ValueError(f"architecture {wildcards.arch!r} is not configured under smalldata.architectures")
    return SD["architectures"][wildcards.arch].get("params") or {}


def sd_training(wildcards):
    """Training settings of one stage: the study's, then the architecture's, then (greedy
    stages only) smalldata.greedy.stage_training.L<k>."""
    merged = dict(SD["training"])
    merged.update(SD["architectures"][wildcards.arch].get("training") or {})
    if wildcards.kind == "greedy":
        stages = SD.get("greedy", {}).get("stage_training") or {}
        merged.update(stages.get(f"L{wildcards.stage}") or {})
    return merged


def sd_finetune_training(wildcards):
    merged = dict(SD["training"])
    merged.update(SD.get("finetune", {}).get("training") or {})
    return merged


def sd_engineered_params(wildcards):
    return SD["features"]["engineered"].get(wildcards.engineered) or {}


def sd_full_stages():
    return list(SD.get("greedy", {}).get("full_stages", [3, 5]))


def sd_stage_results(wildcards=None):
    """test.json of every greedy stage L1..L5 and every Full Lk, per dataset and architecture."""
    runs = [("greedy", k) for k in range(1, 6)] + [("full", k) for k in sd_full_stages()]
    return [
        f"results/smalldata/{ds}/{arch}/{kind}/L{k}/test.json"
        for ds in SD["datasets"]
        for arch in sd_archs()
        for kind, k in runs
    ]


def sd_finetune_results(wildcards=None):
    if not SD.get("finetune", {}).get("enabled"):
        return []
    return [f"results/smalldata/{ds}/finetune/test.json" for ds in SD["datasets"]]


def sd_feature_sets():
    """Names of the feature sets scored by the linear classifiers."""
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
    names += [f"{arch}_{kind}_conv{b}" for arch in sd_archs() for kind in learned for b in range(1, 6)]
    return names


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
