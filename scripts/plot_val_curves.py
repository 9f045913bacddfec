"""Figure: validation accuracy per epoch of every run on one dataset."""

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.plot_val_curves(
        histories=list(snakemake.input.histories),
        out_png=snakemake.output[0],
        dataset=snakemake.wildcards.dataset,
    )
