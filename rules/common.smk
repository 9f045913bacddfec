# Helpers shared by every study's rules: config validation, wildcard constraints,
# and the functions that turn config into target lists and rule parameters.
import os
import sys

from snakemake.utils import validate

validate(config, "../config/schema.yaml")

# Scripts import the package from src/ even when it is not pip-installed
# (e.g. inside a --sdm conda environment or on a cluster node).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH")) if p
    )
)

sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from cnnpractice.workflow import visible_gpus  # noqa: E402  (stdlib only: a cheap import)

TS = config.get("timeseries", {})
TS_MODELS = ("cnn", "lstm", "vgg")
SD = config.get("smalldata", {})
SD_ENGINEERED = ("hog", "hgd", "hcfeats")
SD_DECAF_LAYERS = list(SD.get("features", {}).get("decaf", {}).get("layers", ["fc6", "fc7"]))


wildcard_constraints:
    dataset=r"[A-Za-z][A-Za-z0-9_]*",
    image=r"[a-z][a-z0-9_]*",
    ts_model="|".join(TS_MODELS),
    rep=r"\d+",
    sd_dataset=r"[a-z][a-z0-9_]*",
    arch=r"[a-z][a-z0-9_]*",
    kind="greedy|full",
    stage="[1-5]",
    engineered="|".join(SD_ENGINEERED),
    feature_set=r"[a-z][a-z0-9_]*",
    sem_model=r"[a-z][a-z0-9_]*",
    sem_layer=r"[a-z][a-z0-9_]*",
    el_split="train|test",
    el_shard=r"\d+",


def trainer_settings():
    """Trainer settings that change results (the progress bar does not: scripts read it
    from config directly, so toggling it reruns nothing)."""
    return {k: v for k, v in config["trainer"].items() if k != "progress_bar"}


# Runtime resources of the training rules. Snakemake's `gpu` resource is what the SLURM
# executor turns into `sbatch --gpus=N`, and what profiles/default caps at the workstation's
# GPU count (so two trainings never share a GPU by accident). Every training rule uses
#     threads: training_threads()
#     resources: **training_resources(runtime_min=..., mem_mb=...)


def training_threads():
    """One CPU thread per training process (trainer.devices processes under DDP)."""
    return int(config["trainer"].get("devices", 1))


def training_gpus():
    """GPUs one training job reserves: trainer.devices when it trains on GPUs, else 0.
    `gpu`/`cuda` always reserve; `auto` reserves where Snakemake runs and sees a GPU (a
    GPU workstation; on a cluster whose login node has none, set `gpu`); `cpu`/`mps` never."""
    accelerator = config["trainer"]["accelerator"]
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and visible_gpus() > 0):
        return training_threads()
    return 0


def _scaled_by_attempt(base):
    """A resource that grows with each attempt (base, 2 x base, ...): a training killed at its
    time or memory limit is resubmitted with more, and resumes from its last checkpoint."""

    def value(wildcards, attempt):
        return base * attempt

    return value


def training_resources(runtime_min, mem_mb):
    """`resources:` of a training rule: GPUs (see training_gpus), one SLURM task holding them
    all (Lightning starts the DDP processes itself: tasks_per_gpu=0), and a wall time
    (minutes) and memory that grow with each retry."""
    return {
        "gpu": training_gpus(),
        "tasks_per_gpu": 0,
        "runtime": _scaled_by_attempt(runtime_min),
        "mem_mb": _scaled_by_attempt(mem_mb),
    }


def reference_file(study):
    """The study's published/talk numbers: an input of its table rule, so edits rerun it."""
    return os.path.join(workflow.basedir, "src", "cnnpractice", "reference", f"{study}.yaml")


def merged_training(section, model):
    """A model's training settings: the section defaults updated by the model's own."""
    merged = dict(section["training"])
    merged.update(section["models"][model].get("training") or {})
    return merged


def ts_runs():
    """(dataset, model, image, repeat) of the enabled time-series trainings."""
    runs = []
    for name, model in TS["models"].items():
        if not model.get("enabled"):
            continue
        images = ["raw"] if name == "lstm" else model["images"]
        for image in images:
            if image != "raw" and image not in TS["images"]:
                raise ValueError(
                    f"config key timeseries.models.{name}.images names {image!r}, "
                    f"which is not defined under timeseries.images ({sorted(TS['images'])})"
                )
            runs.extend(
                (dataset, name, image, rep)
                for dataset in TS["datasets"]
                for rep in range(TS.get("repeats", 1))
            )
    return runs


def ts_run_dir(dataset, model, image, rep):
    return f"results/timeseries/{dataset}/{model}/{image}/run{rep}"


def ts_seed(wildcards):
    """Repeat r of a training uses seed + r (different initialisation and shuffling)."""
    return config["seed"] + int(wildcards.rep)


def all_targets():
    targets = []
    if TS.get("enabled"):
        if not ts_runs():
            raise ValueError(
                "timeseries.enabled is true but no model is enabled under timeseries.models"
            )
        targets += [
            "results/timeseries/accuracy.csv",
            "results/timeseries/accuracy.md",
        ]
        targets += expand("results/timeseries/{dataset}/transforms.png", dataset=TS["datasets"])
        targets += expand("results/timeseries/{dataset}/val_accuracy.png", dataset=TS["datasets"])
    if SD.get("enabled"):
        if not sd_archs():
            raise ValueError(
                "smalldata.enabled is true but no architecture is enabled under smalldata.architectures"
            )
        targets += [
            "results/smalldata/greedy.csv",
            "results/smalldata/greedy.md",
            "results/smalldata/features.csv",
            "results/smalldata/features.md",
        ]
        targets += expand(
            "results/smalldata/{sd_dataset}/{arch}/filters.png",
            sd_dataset=list(SD["datasets"]),
            arch=sd_archs(),
        )
    if SEM.get("enabled"):
        if not sem_models():
            raise ValueError("semantic.enabled is true but no model is enabled under semantic.models")
        targets += ["results/semantic/layers.csv", "results/semantic/layers.md", "results/semantic/layers.png"]
        targets += [
            f"results/semantic/{name}/{layer}/taxonomy.{ext}"
            for name, layers in sem_layer_order().items()
            for layer in layers
            for ext in ("csv", "md")
        ]
    if EL.get("enabled"):
        targets += [
            f"results/elves/{name}"
            for name in ("detection.csv", "detection.md", "reconstruction.csv", "reconstruction.md",
                         "elve_frames.png", "location_errors.png")
        ]
    return targets


# Time-series study (rules/timeseries.smk)


def ts_image_channels(wildcards):
    if wildcards.image not in TS["images"]:
        raise ValueError(
            f"image type {wildcards.image!r} is not defined under timeseries.images "
            f"({sorted(TS['images'])})"
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
    return [
        f"{ts_run_dir(*run)}/metrics.csv"
        for run in ts_runs()
        if run[0] == wildcards.dataset and run[3] == 0
    ]


# Small-datasets study (rules/smalldata.smk)


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


def sd_data_inputs(wildcards):
    base = f"resources/smalldata/{wildcards.sd_dataset}"
    return {name: f"{base}/{name}.npy" for name in ("train_x", "train_y", "test_x", "test_y")} | {
        "classes": f"{base}/classes.json"
    }


def sd_train_inputs(wildcards):
    """Prepared data, plus stage k-1's checkpoint for greedy stage k > 1."""
    inputs = sd_data_inputs(wildcards)
    stage = int(wildcards.stage)
    if wildcards.kind == "greedy" and stage > 1:
        inputs["previous"] = (
            f"results/smalldata/{wildcards.sd_dataset}/{wildcards.arch}/greedy/L{stage - 1}/model.ckpt"
        )
    return inputs


def sd_arch_params(wildcards):
    if wildcards.arch not in SD.get("architectures", {}):
        raise ValueError(
            f"architecture {wildcards.arch!r} is not configured under smalldata.architectures"
        )
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
    names += [
        f"{arch}_{kind}_conv{b}" for arch in sd_archs() for kind in learned for b in range(1, 6)
    ]
    return names


def sd_score_files(wildcards=None):
    return [
        f"results/smalldata/{ds}/scores/{name}.json"
        for ds in SD["datasets"]
        for name in sd_feature_sets()
    ]



# Semantic embeddings study (rules/semantic.smk)

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
            raise ValueError(f"{key}: network 'workflow' needs a prepared dataset "
                             f"({sorted(SEM_DATA_DIRS)}), not {dataset!r}")
        for needed in ("arch", "params", "training"):
            if needed not in model:
                raise ValueError(f"{key}.{needed} is required for network 'workflow'")
    elif "arch" not in model:
        raise ValueError(f"{key}.arch is required for network 'torchvision' (e.g. googlenet)")
    elif dataset in SEM_DATA_DIRS:
        raise ValueError(f"{key}: a torchvision network reads ImageNet-style images "
                         f"(dataset imagenet), not the prepared arrays of {dataset!r}")
    from cnnpractice.semantic.layers import layer_modules

    layer_modules(model["network"], model.get("arch"), model["layers"], model.get("modules"),
                  config_key=f"{key}.layers")
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
    common = {"split": settings.get("split", "val" if name == "imagenet" else "test"),
              "images_per_class": settings.get("images_per_class")}
    if name in SEM_DATA_DIRS:
        return {"kind": "arrays", "data_dir": SEM_DATA_DIRS[name], **common}
    return {"kind": "imagenet", "root": settings.get("root"), "resize": settings.get("resize", 256),
            "crop": settings.get("crop", 224), "config_key": f"semantic.datasets.{name}.root", **common}


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
        f"results/semantic/{name}/{layer}/scores.json"
        for name, layers in sem_layer_order().items()
        for layer in layers
    ]


# Elves study (rules/elves.smk)

EL = config.get("elves", {})
# The settings that change simulated events: a parameter of every rule that reads them, so
# changing one reruns the simulation and everything downstream, and nothing else does.
EL_SIMULATION_KEYS = ("sites", "eyes", "reference_site", "layer_altitude_km", "atmosphere",
                      "emission", "readout", "events")


def el_simulation(wildcards=None):
    return {key: EL[key] for key in EL_SIMULATION_KEYS}


def el_shard_count(split):
    return -(-int(EL["splits"][split]) // int(EL["shard_size"]))


def el_shard_events(wildcards):
    """[first event id, number of events] of one shard of a split."""
    size, shard_size, shard = int(EL["splits"][wildcards.el_split]), int(EL["shard_size"]), int(wildcards.el_shard)
    if shard >= el_shard_count(wildcards.el_split):
        raise ValueError(
            f"elves: shard {shard} of split {wildcards.el_split!r} does not exist "
            f"({size} events in shards of elves.shard_size={shard_size})"
        )
    return [shard * shard_size, min(shard_size, size - shard * shard_size)]


def el_shards(split):
    return [f"results/elves/simulated/{split}/shard{k}.npz" for k in range(el_shard_count(split))]


def el_train_shards(wildcards=None):
    return el_shards("train")


def el_test_shards(wildcards=None):
    return el_shards("test")


def el_fit_files(wildcards=None):
    return [f"results/elves/fit/shard{k}.npz" for k in range(el_shard_count("test"))]


def el_cnn(wildcards=None):
    return EL["cnn"]


def el_task_training(task):
    """Training settings of the detector or the locator: elves.training updated by its own."""
    merged = dict(EL["training"])
    merged.update(EL[task].get("training") or {})
    return merged


def el_detector_training(wildcards=None):
    return el_task_training("detector")


def el_locator_training(wildcards=None):
    if el_task_training("locator")["monitor"] != "val_loss":
        raise ValueError("elves.locator.training.monitor: the locator (a regression) is monitored by val_loss")
    return el_task_training("locator")


def el_locator_options(wildcards=None):
    """The locator's own arguments (the detector has none)."""
    return {"loss": EL["locator"].get("loss", "mse")}


def el_fit_settings(wildcards=None):
    return EL["fit"]


def el_distance_bins(wildcards=None):
    return EL["distance_bins_km"]
