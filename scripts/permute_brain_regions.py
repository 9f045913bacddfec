"""Permutation nulls of the region rankings: trained and untrained filter A, voxel t-map."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.permute_brain_regions(
        checkpoint=snakemake.input.ckpt,
        result_json=snakemake.input.result,
        summary_json=snakemake.input.summary,
        slices_dir=Path(snakemake.input.x).parent,
        template_dir=Path(snakemake.input.template[0]).parent,
        qc_csv=snakemake.input.qc,
        out_csv=snakemake.output.csv,
        out_json=snakemake.output.json,
        permutations=snakemake.params.nulls["permutations"],
        selection_permutations=snakemake.params.nulls["selection_permutations"],
        fwhm_mm=snakemake.params.nulls["tmap_fwhm_mm"],
        seed=snakemake.params.seed,
        threads=snakemake.threads,
    )
