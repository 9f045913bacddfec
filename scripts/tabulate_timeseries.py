"""Table: test accuracy of every time-series run beside the talk's and published numbers."""

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_timeseries(
        results=list(snakemake.input.results),
        reference=snakemake.input.reference,
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
        out_runs_csv=snakemake.output.runs,
    )
