"""The elves simulator against derived geometry and published facts (sanity table)."""

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.check_elves_physics(
        test_shards=list(snakemake.input.test),
        settings=dict(snakemake.params.settings),
        csv=snakemake.output.csv,
        md=snakemake.output.md,
    )
