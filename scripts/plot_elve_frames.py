"""Frames of a simulated elve as the first eye's cameras see it."""

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.plot_elve_frames(
        shard=snakemake.input.shard,
        out=snakemake.output[0],
        settings=dict(snakemake.params.settings),
        seed=snakemake.params.seed,
    )
