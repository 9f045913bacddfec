"""Figure: validation accuracy per epoch of every run on one dataset."""

from cnnpractice.timeseries.figures import plot_val_curves
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    plot_val_curves(
        histories=list(snakemake.input.histories),
        out_png=snakemake.output[0],
        dataset=snakemake.wildcards.dataset,
    )
