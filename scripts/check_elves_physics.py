"""The elves simulator against derived geometry and published facts (sanity table)."""

from cnnpractice.elves.sanity import check_physics
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    check_physics(
        test_shards=list(snakemake.input.test),
        settings=dict(snakemake.params.settings),
        csv=snakemake.output.csv,
        md=snakemake.output.md,
    )
