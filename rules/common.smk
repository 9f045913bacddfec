# Helpers shared by every study's rules: config validation, wildcard constraints,
# and the functions that turn config into target lists and rule parameters.
import os
import sys

from snakemake.utils import validate

validate(config, "../config/schema.yaml")

# Scripts import the package from src/ even when it is not pip-installed
# (e.g. inside a --sdm conda environment or on a cluster node).
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH")) if p)
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
    br_input=r"[a-z][a-z0-9_]*",
    br_fold=r"\d+",
    br_shard=r"\d+",
    br_arm="subject_shuffled|slice_true|slice_shuffled",


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
                (dataset, name, image, rep) for dataset in TS["datasets"] for rep in range(TS.get("repeats", 1))
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
            raise ValueError("timeseries.enabled is true but no model is enabled under timeseries.models")
        targets += [
            "results/timeseries/accuracy.csv",
            "results/timeseries/accuracy.md",
        ]
        targets += expand("results/timeseries/{dataset}/transforms.png", dataset=TS["datasets"])
        targets += expand("results/timeseries/{dataset}/val_accuracy.png", dataset=TS["datasets"])
    if SD.get("enabled"):
        if not sd_archs():
            raise ValueError("smalldata.enabled is true but no architecture is enabled under smalldata.architectures")
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
            for name in (
                "detection.csv",
                "detection.md",
                "reconstruction.csv",
                "reconstruction.md",
                "elve_frames.png",
                "location_errors.png",
            )
        ]
    if BR.get("enabled"):
        targets += br_targets()
    return targets


# Per-study helpers (functions only).
include: "helpers/timeseries.smk"
include: "helpers/smalldata.smk"
include: "helpers/semantic.smk"
include: "helpers/elves.smk"
include: "helpers/brain.smk"
