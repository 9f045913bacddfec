# Brain MRI study (rules/brain.smk) helpers: its constants, config -> rule parameters, and
# brain_targets(). Functions only (snakemake --lint wants rules and functions in separate
# files); included by rules/common.smk.
from cnnpractice.brain.interpret import OUTPUTS as BR_INTERPRET_FILES  # numpy only at import

BR = config.get("brain", {})
BR_TEMPLATE = expand(
    "results/brain/template/{name}",
    name=["template.nii.gz", "mask.nii.gz", "atlas.nii.gz", "atlas_labels.csv"],
)
# what each interpreted model writes: BR_INTERPRET_FILES (cnnpractice.brain.interpret.OUTPUTS)
BR_INTERPRET_OUTPUTS = [f"results/brain/{{br_input}}/fold{{br_fold}}/interpret/{name}" for name in BR_INTERPRET_FILES]


def br_inputs():
    """The slice configurations; one set to null (e.g. in a layered config) is dropped."""
    inputs = {name: spec for name, spec in BR["inputs"].items() if spec is not None}
    if BR.get("enabled") and not inputs:
        raise ValueError("brain.enabled is true but every configuration under brain.inputs is null")
    return inputs


def br_inputs_param(wildcards=None):
    return br_inputs()


def br_atlas_dir():
    """nilearn's data folder holding the Harvard-Oxford atlases (fetch_brain_atlas), or None
    for the atlases shipped with a package (AAL)."""
    return "resources/nilearn_data" if BR.get("template", {}).get("atlas") == "harvard_oxford" else None


def br_atlas_inputs(wildcards=None):
    return {"atlas": "resources/nilearn_data/fsl"} if br_atlas_dir() else {}


def br_source_inputs(wildcards=None):
    """The cohort's sources: the template (synthetic cohort) or the OASIS download."""
    if BR["source"] == "oasis":
        return {"fetch": "resources/brain/oasis/fetch.json"}
    return {"template": BR_TEMPLATE}


def br_cohort_settings(wildcards=None):
    return {
        "source": BR["source"],
        **({"oasis": BR["oasis"]} if BR["source"] == "oasis" else {"synthetic": BR["synthetic"]}),
    }


def br_shards():
    return list(range(int(BR["alignment"]["shards"])))


def br_shard_dirs(wildcards=None):
    return expand("results/brain/aligned/shard{br_shard}", br_shard=br_shards())


def br_alignment(wildcards=None):
    return {k: BR["alignment"][k] for k in ("method", "settings", "nonlinear")}


def br_input_spec(wildcards):
    if wildcards.br_input not in br_inputs():
        raise ValueError(f"brain: no slice configuration {wildcards.br_input!r} under brain.inputs")
    # talk_row only labels the table: leaving it out keeps a label change from re-slicing
    spec = {k: v for k, v in br_inputs()[wildcards.br_input].items() if k != "talk_row"}
    return {"step": 1, "hemisphere": "both", **spec}


def br_folds():
    return list(range(int(BR["cv"]["folds"])))


def br_fold_files(name):
    """`name` of every fold of every input configuration: {input: [paths]}."""
    return {
        i: expand("results/brain/{br_input}/fold{br_fold}/{name}", br_input=i, br_fold=br_folds(), name=name)
        for i in br_inputs()
    }


def br_fold_outputs(prefix, name):
    """`results/brain/<prefix>/fold<k>/<name>` of every fold: one training job writes them all
    (importing torch and Lightning costs more than a fit at the offline size)."""
    return [f"results/brain/{prefix}/fold{k}/{name}" for k in br_folds()]


# the leakage experiment and the permutation nulls use the interpreted configuration's slices
BR_LEAKAGE_INPUT = BR.get("interpret", {}).get("input", "full")
BR_LEAKAGE_ARMS = ("subject_shuffled", "slice_true", "slice_shuffled")  # subject_true is train_brain's


def br_leakage_folds(wildcards=None):
    """Every arm's fold.json: {arm: [paths]} (the subject_true arm is the study's own folds)."""
    return {
        "subject_true": br_fold_outputs(br_interpret_input(), "fold.json"),
        **{arm: br_fold_outputs(f"leakage/{arm}", "fold.json") for arm in BR_LEAKAGE_ARMS},
    }


def br_interpret_selected(name):
    """`name` under the interpreted configuration's selected fold (brain.interpret.fold)."""
    return f"results/brain/{br_interpret_input()}/fold{BR['interpret']['fold']}/{name}"


def br_fold_jsons(wildcards=None):
    return [p for paths in br_fold_files("fold.json").values() for p in paths]


def br_svm_input(wildcards=None):
    return ["results/brain/svm/folds.json"] if BR["svm"]["enabled"] else []


def br_interpret_input():
    name = BR["interpret"]["input"]
    if name not in br_inputs():
        raise ValueError(
            f"brain.interpret.input names {name!r}, which is not under brain.inputs ({sorted(br_inputs())})"
        )
    if BR["interpret"]["fold"] >= BR["cv"]["folds"]:
        raise ValueError(f"brain.interpret.fold={BR['interpret']['fold']} but brain.cv.folds={BR['cv']['folds']}")
    return name


def br_interpret_files(name):
    return expand(
        "results/brain/{br_input}/fold{br_fold}/interpret/{name}",
        br_input=br_interpret_input(),
        br_fold=br_folds(),
        name=name,
    )


def br_interpret_regions(wildcards=None):
    return br_interpret_files("regions.csv")


def br_interpret_mem_mb(wildcards, attempt):
    """Memory (MB) of an interpretation: running sums and squares (2 classes, float64) of
    every filter's maps at every slice position, plus a few template-sized 4D volumes;
    e.g. 1 GB offline, about 16 GB for paper.yaml (60 filters, 176 px, 1 mm)."""
    spec = br_inputs()[wildcards.br_input]
    voxel = float(BR["template"]["resolution"])
    planes = int(abs(spec["range_mm"][1] - spec["range_mm"][0]) / voxel) // int(spec.get("step", 1)) + 1
    filters, side = int(BR["cnn"].get("first_filters", 16)), int(BR["slice_size"])
    sums = 2 * 2 * 8 * planes * filters * side * side
    volumes = 4 * 4 * filters * (200 // voxel) * (235 // voxel) * (190 // voxel)
    return int(attempt * (1.5 * (sums + volumes) / 2**20 + 1500))


def br_interpret_mem_mb_selected(wildcards, attempt):
    """The permutation nulls hold about what one interpretation holds (one filter's maps of
    every subject in template space, plus the t-map's volumes)."""
    from types import SimpleNamespace

    return br_interpret_mem_mb(SimpleNamespace(br_input=br_interpret_input()), attempt)


def br_interpret_fold(wildcards=None):
    return int(BR["interpret"]["fold"])


def brain_targets():
    """The QC, metrics and regions tables, the interpreted model's two figures, and the leakage
    table when brain.leakage.enabled."""
    if not BR.get("enabled"):
        return []
    sel = f"results/brain/{br_interpret_input()}/fold{BR['interpret']['fold']}/interpret"
    targets = [
        "results/brain/qc.md",
        "results/brain/metrics.csv",
        "results/brain/metrics.md",
        "results/brain/regions.csv",
        "results/brain/regions.md",
        f"{sel}/filters.png",
        f"{sel}/filter_a_cuts.png",
    ]
    if BR.get("leakage", {}).get("enabled"):
        targets += ["results/brain/leakage.csv", "results/brain/leakage.md"]
    return targets
