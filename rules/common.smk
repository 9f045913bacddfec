# Helpers shared by every study's rules: config typing and validation, resources, the
# reference files, wildcard constraints and all_targets(). Each study's own constants,
# parameter functions and <study>_targets() live in rules/helpers/<study>.smk.
import os
import sys

import yaml

# Scripts import the package from src/ even when it is not pip-installed
# (e.g. inside a --sdm conda environment or on a cluster node).
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH")) if p)
)

sys.path.insert(0, os.path.join(workflow.basedir, "src"))
# stdlib and PyYAML only: cheap imports
from cnnpractice.config import check_config, check_integers, coerce_overrides, fill_defaults  # noqa: E402
from cnnpractice.workflow import visible_gpus  # noqa: E402

# --config values arrive as strings below the top level (YAML BaseLoader): type them by the
# schema first, so `--config brain='{enabled: false}'` works; then check every error with its
# dotted key named, validate (defaults filled) and refuse floats where integers belong
# (JSON Schema would take seed: 42.0).
with open(os.path.join(workflow.basedir, "config", "schema.yaml")) as _schema_file:
    CONFIG_SCHEMA = yaml.load(_schema_file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster
coerce_overrides(config, dict(workflow.config_settings.config or {}), CONFIG_SCHEMA)
check_config(config, CONFIG_SCHEMA)
fill_defaults(config, CONFIG_SCHEMA)
check_integers(config, CONFIG_SCHEMA)


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


def data_threads(wanted):
    """Threads of a multi-threaded data job: ``wanted``, but at most half the local cores.
    A job holding every core starts only when all are free at once; on a 2-core machine
    the single-thread jobs beside it always hold one, and it waited behind the whole rest
    of the DAG. Cluster executors (no local core count) get ``wanted``."""
    # workflow.cores raises where no core count is set (cluster executors, the API)
    cores = getattr(getattr(workflow, "resource_settings", None), "cores", None)
    if not isinstance(cores, int) or cores <= 0 or cores >= 10**6:
        return wanted
    return max(1, min(wanted, cores // 2))


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


def inference_gpus():
    """GPUs a rule that runs a network outside training reserves (transforms, feature
    extraction): one, where it would use one (cnnpractice.training.device.choose_device:
    any accelerator but cpu, when a GPU is visible), else none."""
    accelerator = config["trainer"]["accelerator"]
    return 1 if accelerator != "cpu" and (accelerator in ("gpu", "cuda") or visible_gpus() > 0) else 0


def inference_resources(runtime_min=None, mem_mb=None):
    """`resources:` of such a rule: its GPU (inference_gpus) and, when given, a wall time
    (minutes) and memory that grow with each retry."""
    resources = {"gpu": inference_gpus()}
    if runtime_min:
        resources["runtime"] = _scaled_by_attempt(runtime_min)
    if mem_mb:
        resources["mem_mb"] = _scaled_by_attempt(mem_mb)
    return resources


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


# Each study's constants, parameter functions and <study>_targets() (functions only, as
# snakemake --lint wants). Smalldata before semantic, which reads the small-data study's
# outputs through its helpers.
include: "helpers/timeseries.smk"
include: "helpers/smalldata.smk"
include: "helpers/semantic.smk"
include: "helpers/elves.smk"
include: "helpers/brain.smk"
include: "helpers/data.smk"


wildcard_constraints:
    dataset=r"[A-Za-z][A-Za-z0-9_]*",
    sd_dataset=r"[a-z][a-z0-9_]*",
    arch=r"[a-z][a-z0-9_]*",
    kind="greedy|full",
    sd_seed=r"\d+",
    engineered="|".join(SD_ENGINEERED),
    feature_set=r"[a-z][a-z0-9_]*",
    sem_model=r"[a-z][a-z0-9_]*",
    sem_layer=r"[a-z][a-z0-9_]*",
    sem_seed=r"\d+",
    el_split="train|test|nominal",
    el_test="test|nominal",
    el_eyes="mono|stereo",
    el_shard=r"\d+",
    br_input=r"[a-z][a-z0-9_]*",
    br_fold=r"\d+",
    br_shard=r"\d+",
    weights_file=r"[A-Za-z0-9_.-]+\.pth",
    br_arm="subject_shuffled|slice_true|slice_shuffled",


def all_targets():
    """The targets of the default rule (all), one list per enabled study."""
    return timeseries_targets() + smalldata_targets() + semantic_targets() + elves_targets() + brain_targets()
