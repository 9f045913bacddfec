"""Align one shard of the cohort to the template (affine, optionally nonlinear), with QC numbers."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.align_brain(
        cohort_csv=snakemake.input.cohort,
        template_dir=Path(snakemake.input.template[0]).parent,
        out_dir=snakemake.output[0],
        shard=int(snakemake.wildcards.br_shard),
        n_shards=snakemake.params.shards,
        method=snakemake.params.alignment["method"],
        settings=dict(snakemake.params.alignment["settings"]),
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        nonlinear=dict(snakemake.params.alignment["nonlinear"]),
        cohort_json=snakemake.input.truth,
    )
