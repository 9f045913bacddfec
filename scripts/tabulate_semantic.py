"""Layer representativeness tables of every semantic model: naming F1 and rank correlation against
their nulls, trained vs untrained."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_semantic(
        score_files=list(snakemake.input.scores),
        layer_order=dict(snakemake.params.layer_order),
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
        out_k_csv=snakemake.output.k_csv,
    )
