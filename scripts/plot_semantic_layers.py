"""Figure: layer representativeness against depth, one line per semantic model."""

from cnnpractice.semantic.pipeline import plot_layers
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    plot_layers(
        score_files=list(snakemake.input.scores),
        layer_order=dict(snakemake.params.layer_order),
        out=snakemake.output[0],
    )
