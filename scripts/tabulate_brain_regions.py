"""regions.{csv,md}: atlas regions ranked by filter A's dBMS, planted regions checked."""

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_brain_regions(
        regions=list(snakemake.input.regions),
        untrained=list(snakemake.input.untrained),
        summaries=list(snakemake.input.summaries),
        cohort_json=snakemake.input.cohort,
        fold=snakemake.params.fold,
        top=snakemake.params.top,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.md,
        reference=snakemake.input.reference,
    )
