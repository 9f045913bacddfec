"""The small-data tables: greedy vs end-to-end training, learned vs engineered features."""

from cnnpractice.smalldata.datasets import talk_key
from cnnpractice.smalldata.tables import tabulate_features, tabulate_greedy
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    tabulate_greedy(
        results=list(snakemake.input.results),
        finetune=list(snakemake.input.finetune),
        out_csv=snakemake.output.greedy_csv,
        out_md=snakemake.output.greedy_md,
        talk_keys={ds: talk_key(ds) for ds in snakemake.params.datasets},
        reference=snakemake.input.reference,
    )
    tabulate_features(
        scores=list(snakemake.input.scores),
        out_csv=snakemake.output.features_csv,
        out_md=snakemake.output.features_md,
        reference=snakemake.input.reference,
    )
