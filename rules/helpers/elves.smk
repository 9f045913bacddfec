# Elves study (rules/elves.smk) helpers: its constants, config -> rule parameters, and
# elves_targets(). Functions only (snakemake --lint wants rules and functions in separate
# files); included by rules/common.smk.


EL = config.get("elves", {})
# The settings that change simulated events: a parameter of every rule that reads them, so
# changing one reruns the simulation and everything downstream, and nothing else does.
EL_SIMULATION_KEYS = (
    "sites",
    "eyes",
    "reference_site",
    "layer_altitude_km",
    "atmosphere",
    "emission",
    "readout",
    "events",
)


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


def elves_targets():
    """The detection and reconstruction tables and the two figures."""
    if not EL.get("enabled"):
        return []
    names = ("detection.csv", "detection.md", "reconstruction.csv", "reconstruction.md")
    return [f"results/elves/{name}" for name in (*names, "elve_frames.png", "location_errors.png")]
