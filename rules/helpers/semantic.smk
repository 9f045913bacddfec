# Semantic embeddings study (rules/semantic.smk) helpers: its constants, config -> rule
# parameters, and semantic_targets(). It reads the small-data study's outputs only through
# that study's helpers (sd_prepared_files, sd_l5_run). Functions only (snakemake
# --lint wants rules and functions in separate files); included by rules/common.smk.


SEM = config.get("semantic", {})
SEM_DATASETS = SEM.get("datasets", {})
# datasets a workflow network reads as prepared arrays: Fashion-MNIST (the small-data
# study prepares it) and CIFAR-100 (prepare_cifar100 here)
SEM_PREPARED = ("fashion_mnist", "cifar100")
SEM_CIFAR100 = "resources/semantic/cifar100"
SEM_IMAGENET = "resources/semantic/imagenet"  # prepare_imagenet (rules/data.smk)
# networks per model: trained (or reused) with seeds seed, seed + 1, ... and, with
# semantic.untrained, the untrained initialisations of the same seeds
SEM_SEEDS = [int(config["seed"]) + i for i in range(int(SEM.get("seeds", 3)))]


def sem_prepared_files(dataset):
    """The prepared arrays of a dataset a workflow network reads (Fashion-MNIST: prepared by
    the small-data study; CIFAR-100: by this one); None for ImageNet (read from
    semantic.datasets.imagenet.root)."""
    if dataset == "fashion_mnist":
        return sd_prepared_files(dataset)
    if dataset == "cifar100":
        return {name: f"{SEM_CIFAR100}/{name}.npy" for name in ("train_x", "train_y", "test_x", "test_y")} | {
            "classes": f"{SEM_CIFAR100}/classes.json"
        }
    return None


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
        if dataset not in SEM_PREPARED:
            raise ValueError(
                f"{key}: network 'workflow' needs a prepared dataset ({sorted(SEM_PREPARED)}), not {dataset!r}"
            )
        for needed in ("arch", "params", "training"):
            if needed not in model:
                raise ValueError(f"{key}.{needed} is required for network 'workflow'")
    elif "arch" not in model:
        raise ValueError(f"{key}.arch is required for network 'torchvision' (e.g. googlenet)")
    elif dataset in SEM_PREPARED:
        raise ValueError(
            f"{key}: a torchvision network reads ImageNet-style images "
            f"(dataset imagenet), not the prepared arrays of {dataset!r}"
        )
    from cnnpractice.semantic.layers import layer_modules

    layer_modules(
        model["network"], model.get("arch"), model["layers"], model.get("modules"), config_key=f"{key}.layers"
    )
    return model


def sem_network_files(name):
    """seed -> the checkpoint and test.json a workflow model's trained network of that seed
    comes from: the small-data study's L5 network when that study trains it with the same
    dataset, architecture and seed (semantic.models.<name>.checkpoint: greedy or full L5),
    else this study's own network (train_semantic); None for torchvision models."""
    model = sem_model(name)
    if model["network"] != "workflow":
        return None
    files = {}
    for seed in SEM_SEEDS:
        own = f"results/semantic/{name}/network/seed{seed}"
        files[seed] = sd_l5_run(model["dataset"], model["arch"], model.get("checkpoint", "full"), seed) or {
            "ckpt": f"{own}/model.ckpt",
            "result": f"{own}/test.json",
        }
    return files


def sem_dataset_name(wildcards):
    return sem_model(wildcards.sem_model)["dataset"]


def sem_data_inputs(wildcards):
    """The prepared arrays of a workflow model's dataset."""
    return sem_prepared_files(sem_dataset_name(wildcards))


def sem_extract_inputs(wildcards):
    """Prepared arrays and every seed's checkpoint (``ckpt<seed>``, ``result<seed>``) of a
    workflow network; ImageNet as prepare_imagenet laid it out and the pretrained weights
    (torchvision networks)."""
    network = sem_network_files(wildcards.sem_model)
    if network is None:
        model = sem_model(wildcards.sem_model)
        inputs = {"weights": torch_weights_path(model["arch"], model.get("weights"))}
        return inputs | ({"imagenet": SEM_IMAGENET} if model["dataset"] == "imagenet" else {})
    inputs = sem_data_inputs(wildcards)
    for seed, files in network.items():
        inputs |= {f"ckpt{seed}": files["ckpt"], f"result{seed}": files["result"]}
    return inputs


def sem_seed(wildcards):
    return int(wildcards.sem_seed)


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
    if name in SEM_PREPARED:
        return {"kind": "arrays", "data_dir": os.path.dirname(sem_prepared_files(name)["classes"]), **common}
    return {
        "kind": "imagenet",
        "root": SEM_IMAGENET,  # prepare_imagenet's copy of semantic.datasets.imagenet.root
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


def semantic_targets():
    """The layers tables and figure, and every (model, layer) taxonomy."""
    if not SEM.get("enabled"):
        return []
    if not sem_models():
        raise ValueError("semantic.enabled is true but no model is enabled under semantic.models")
    return [
        "results/semantic/layers.csv",
        "results/semantic/layers.md",
        "results/semantic/layers_k.csv",
        "results/semantic/layers.png",
        *[
            f"results/semantic/{name}/{layer}/taxonomy.{ext}"
            for name, layers in sem_layer_order().items()
            for layer in layers
            for ext in ("csv", "md")
        ],
    ]
