"""regions.{csv,md}: atlas regions ranked by filter A's dBMS, planted regions checked."""

from cnnpractice.brain.pipeline import tabulate_regions
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    tabulate_regions(
        regions=list(snakemake.input.regions),
        untrained=list(snakemake.input.untrained),
        summaries=list(snakemake.input.summaries),
        cohort_json=snakemake.input.cohort,
        fold=snakemake.params.fold,
        top=snakemake.params.top,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.md,
    )
