"""Location error of every held-out elve against its distance, CNN and timing fit."""

from cnnpractice.elves.figures import plot_location_errors
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    plot_location_errors(events_csv=snakemake.input.events, out=snakemake.output[0])
