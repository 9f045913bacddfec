"""Table: the transfer datasets, run with the settings chosen on the default ones."""

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_timeseries_transfer(
        results=list(snakemake.input.results),
        validation=list(snakemake.input.validation),
        selection=snakemake.input.get("selection"),
        reference=snakemake.input.reference,
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
        out_runs_csv=snakemake.output.runs,
        out_comparisons_csv=snakemake.output.comparisons,
    )
