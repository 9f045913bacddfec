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
    "nuisances",
    "backgrounds",
)


def el_nuisances_on():
    return bool(EL.get("nuisances", {}).get("enabled", False))


def el_simulation(wildcards=None):
    """The simulation settings; the "nominal" test split is simulated with the nuisances off."""
    settings = {key: EL[key] for key in EL_SIMULATION_KEYS if key in EL}
    if wildcards is not None and getattr(wildcards, "el_split", None) == "nominal":
        settings["nuisances"] = {**settings["nuisances"], "enabled": False}
    return settings


def el_test_sets():
    """Held-out splits: "test" (nuisances as configured) and, with nuisances on, "nominal"
    (the same settings with them off: the fit's model is then exact)."""
    return ["test", "nominal"] if el_nuisances_on() else ["test"]


def el_eye_sets():
    """Locator and fit variants: the first eye alone ("mono") and, with several eyes, all ("stereo")."""
    return ["mono", "stereo"] if len(EL["eyes"]) > 1 else ["mono"]


def el_split_size(split):
    return int(EL["splits"]["test" if split == "nominal" else split])


def el_shard_count(split):
    return -(-el_split_size(split) // int(EL["shard_size"]))


def el_shard_events(wildcards):
    """[first event id, number of events] of one shard of a split."""
    size, shard_size, shard = el_split_size(wildcards.el_split), int(EL["shard_size"]), int(wildcards.el_shard)
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


def el_nominal_shards(wildcards=None):
    return el_shards("nominal") if el_nuisances_on() else []


def el_fit_shard(wildcards):
    return f"results/elves/simulated/{wildcards.el_test}/shard{wildcards.el_shard}.npz"


def el_fit_files(wildcards=None):
    return {
        split: [f"results/elves/fit/{split}/shard{k}.npz" for k in range(el_shard_count(split))]
        for split in el_test_sets()
    }


def el_locator_results(wildcards=None):
    return {eyes: f"results/elves/locator/{eyes}/test.json" for eyes in el_eye_sets()}


def el_table_inputs(wildcards=None):
    """Named inputs of tabulate_elves besides the detector's test.json: each locator's
    test.json, the fits and the shards of every held-out split."""
    inputs = {f"locator_{eyes}": path for eyes, path in el_locator_results().items()}
    for split, files in el_fit_files().items():
        inputs[f"fits_{split}"] = files
        inputs[f"shards_{split}"] = el_shards(split)
    return inputs


def el_task_cnn(task):
    """The CNN of the detector or the locator: elves.cnn updated by its own."""
    return {**EL["cnn"], **(EL[task].get("cnn") or {})}


def el_detector_cnn(wildcards=None):
    return el_task_cnn("detector")


def el_locator_cnn(wildcards=None):
    return el_task_cnn("locator")


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


def el_detector_options(wildcards=None):
    """The detector's own arguments: how many training events of each class it may use."""
    return {"max_per_class": EL["detector"].get("max_per_class"), "inputs": EL["detector"].get("inputs", "movies")}


def el_locator_options(wildcards):
    """The locator's own arguments (the detector has none): its loss, which eyes it sees,
    and the first-light rule when it gets first-light frames."""
    options = {
        "loss": EL["locator"].get("loss", "mse"),
        "eyes": [0] if wildcards.el_eyes == "mono" else None,
        "inputs": EL["locator"].get("inputs", "movies"),
    }
    if EL["locator"].get("first_light", False):
        options["first_light"] = {k: EL["fit"][k] for k in ("threshold_sigma", "min_bins")}
    return options


def el_fit_settings(wildcards=None):
    return EL["fit"]


def el_distance_bins(wildcards=None):
    return EL["distance_bins_km"]


def elves_targets():
    """The detection, reconstruction and sanity tables and the two figures."""
    if not EL.get("enabled"):
        return []
    names = ("detection.csv", "detection.md", "reconstruction.csv", "reconstruction.md", "sanity.csv", "sanity.md")
    return [f"results/elves/{name}" for name in (*names, "elve_frames.png", "location_errors.png")]
