"""Figure: layer representativeness against depth, one line per semantic model."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.plot_semantic_layers(
        score_files=list(snakemake.input.scores),
        layer_order=dict(snakemake.params.layer_order),
        out=snakemake.output[0],
    )
