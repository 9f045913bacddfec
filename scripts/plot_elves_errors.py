"""Location error of every held-out elve against its distance, CNN and timing fit."""

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.plot_elves_errors(events_csv=snakemake.input.events, out=snakemake.output[0])
