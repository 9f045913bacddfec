# Semantic embeddings study (rules/semantic.smk) helpers: config -> targets and rule parameters.
# Functions only (snakemake --lint wants rules and functions in separate files);
# included by rules/common.smk.


SEM = config.get("semantic", {})
SEM_DATASETS = SEM.get("datasets", {})
# Prepared-array datasets -> their folder (the small-data study prepares Fashion-MNIST,
# this study CIFAR-100); ImageNet is read from semantic.datasets.imagenet.root.
SEM_DATA_DIRS = {
    "fashion_mnist": "resources/smalldata/fashion_mnist",
    "cifar100": "resources/semantic/cifar100",
}


def sem_models():
    """Names of the enabled semantic models."""
    return [name for name, m in SEM.get("models", {}).items() if m.get("enabled")]


def sem_model(name):
    """A model's config, checked: what its network kind and dataset need is there."""
    if name not in SEM.get("models", {}):
        raise ValueError(f"model {name!r} is not configured under semantic.models")
    model = SEM["models"][name]
    key = f"semantic.models.{name}"
    dataset = model["dataset"]
    if dataset not in SEM_DATASETS:
        raise ValueError(f"{key}.dataset is {dataset!r}: configure semantic.datasets.{dataset}")
    if model["network"] == "workflow":
        if dataset not in SEM_DATA_DIRS:
            raise ValueError(
                f"{key}: network 'workflow' needs a prepared dataset " f"({sorted(SEM_DATA_DIRS)}), not {dataset!r}"
            )
        for needed in ("arch", "params", "training"):
            if needed not in model:
                raise ValueError(f"{key}.{needed} is required for network 'workflow'")
    elif "arch" not in model:
        raise ValueError(f"{key}.arch is required for network 'torchvision' (e.g. googlenet)")
    elif dataset in SEM_DATA_DIRS:
        raise ValueError(
            f"{key}: a torchvision network reads ImageNet-style images "
            f"(dataset imagenet), not the prepared arrays of {dataset!r}"
        )
    from cnnpractice.semantic.layers import layer_modules

    layer_modules(
        model["network"], model.get("arch"), model["layers"], model.get("modules"), config_key=f"{key}.layers"
    )
    return model


def sem_smalldata_checkpoint(name):
    """The small-data study's L5 checkpoint a workflow model reuses when that study is enabled
    with the same dataset and architecture (semantic.models.<name>.checkpoint: greedy or full
    L5); None when it is not there (then train_semantic trains one)."""
    model = sem_model(name)
    kind = model.get("checkpoint", "full")
    if (
        model["network"] != "workflow"
        or not SD.get("enabled")
        or model["dataset"] not in SD.get("datasets", {})
        or model["arch"] not in sd_archs()
        or (kind == "full" and 5 not in sd_full_stages())
    ):
        return None
    return f"results/smalldata/{model['dataset']}/{model['arch']}/{kind}/L5/model.ckpt"


def sem_checkpoint(name):
    """The checkpoint a workflow model's activations come from (None for torchvision)."""
    if sem_model(name)["network"] != "workflow":
        return None
    return sem_smalldata_checkpoint(name) or f"results/semantic/{name}/network/model.ckpt"


def sem_dataset_name(wildcards):
    return sem_model(wildcards.sem_model)["dataset"]


def sem_data_inputs(wildcards):
    """The prepared arrays of a workflow model's dataset."""
    base = SEM_DATA_DIRS[sem_dataset_name(wildcards)]
    names = ("train_x", "train_y", "test_x", "test_y")
    return {name: f"{base}/{name}.npy" for name in names} | {"classes": f"{base}/classes.json"}


def sem_extract_inputs(wildcards):
    """Prepared arrays and checkpoint (workflow networks); nothing for ImageNet models, whose
    images are outside the workflow (semantic.datasets.imagenet.root)."""
    ckpt = sem_checkpoint(wildcards.sem_model)
    if ckpt is None:
        return {}
    return sem_data_inputs(wildcards) | {"ckpt": ckpt, "result": ckpt.replace("model.ckpt", "test.json")}


def sem_arch_params(wildcards):
    return sem_model(wildcards.sem_model)["params"]


def sem_training(wildcards):
    return sem_model(wildcards.sem_model)["training"]


def sem_network(wildcards):
    model = sem_model(wildcards.sem_model)
    return {"kind": model["network"], "arch": model.get("arch"), "weights": model.get("weights")}


def sem_dataset(wildcards):
    """What the extraction reads: prepared arrays, or the ImageNet folder."""
    name = sem_dataset_name(wildcards)
    settings = SEM_DATASETS[name]
    common = {
        "split": settings.get("split", "val" if name == "imagenet" else "test"),
        "images_per_class": settings.get("images_per_class"),
    }
    if name in SEM_DATA_DIRS:
        return {"kind": "arrays", "data_dir": SEM_DATA_DIRS[name], **common}
    return {
        "kind": "imagenet",
        "root": settings.get("root"),
        "resize": settings.get("resize", 256),
        "crop": settings.get("crop", 224),
        "config_key": f"semantic.datasets.{name}.root",
        **common,
    }


def sem_layer_names(wildcards):
    return list(sem_model(wildcards.sem_model)["layers"])


def sem_modules(wildcards):
    return dict(sem_model(wildcards.sem_model).get("modules") or {})


def sem_synsets(wildcards):
    return dict(SEM_DATASETS[sem_dataset_name(wildcards)].get("synsets") or {})


def sem_taxonomy_inputs(wildcards):
    """Class means, WordNet hierarchy, and (ImageNet models) the talk's taxonomy."""
    base = f"results/semantic/{wildcards.sem_model}"
    inputs = {"activations": f"{base}/activations", "hierarchy": f"{base}/wordnet.npz"}
    if sem_dataset_name(wildcards) == "imagenet":
        inputs["reference"] = reference_file("semantic")
    return inputs


def sem_layer_order():
    """{model: [layer, ...]} in configured (input -> output) order, enabled models only."""
    return {name: list(sem_model(name)["layers"]) for name in sem_models()}


def sem_score_files(wildcards=None):
    return [
        f"results/semantic/{name}/{layer}/scores.json" for name, layers in sem_layer_order().items() for layer in layers
    ]
