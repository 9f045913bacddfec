"""Locate the elves of one test shard by fitting the light front's timing (the baseline)."""

from cnnpractice.elves.fit import fit_shard
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    fit_shard(
        shard=snakemake.input.shard,
        out=snakemake.output[0],
        settings=dict(snakemake.params.settings),
        **dict(snakemake.params.fit),
    )
