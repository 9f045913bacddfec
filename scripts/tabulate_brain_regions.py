"""regions.{csv,md}: three region rankings (trained, untrained, t-map), each against its null."""

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_brain_regions(
        regions=list(snakemake.input.regions),
        null_csv=snakemake.input.null_csv,
        null_json=snakemake.input.null_json,
        cohort_json=snakemake.input.cohort,
        fold=snakemake.params.fold,
        top=snakemake.params.top,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.md,
        reference=snakemake.input.reference,
    )
