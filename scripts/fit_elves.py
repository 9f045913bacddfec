"""Locate the elves of one test shard by fitting the light front's timing (the baseline)."""

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.fit_elves(
        shard=snakemake.input.shard,
        out=snakemake.output[0],
        settings=dict(snakemake.params.settings),
        fit=dict(snakemake.params.fit),
    )
