"""Simulate one shard of the elves study's events (elves, showers, noise, laser shots, lightning)."""

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    first_event, n_events = snakemake.params.events
    stages.simulate_elves(
        out=snakemake.output[0],
        settings=dict(snakemake.params.settings),
        seed=snakemake.params.seed,
        split=snakemake.wildcards.el_split,
        shard=int(snakemake.wildcards.el_shard),
        first_event=first_event,
        n_events=n_events,
    )
