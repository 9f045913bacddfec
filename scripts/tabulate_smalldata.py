"""The small-data tables: greedy vs end-to-end training, learned vs engineered features."""

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_smalldata(
        selections=list(snakemake.input.selections),
        finetune=list(snakemake.input.finetune),
        scores=list(snakemake.input.scores),
        test_labels=list(snakemake.input.test_labels),
        datasets=list(snakemake.params.datasets),
        reference=snakemake.input.reference,
        greedy_csv=snakemake.output.greedy_csv,
        greedy_md=snakemake.output.greedy_md,
        features_csv=snakemake.output.features_csv,
        features_md=snakemake.output.features_md,
    )
