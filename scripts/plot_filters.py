"""First-layer filters of greedy vs end-to-end training for one dataset and architecture."""

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.plot_filters(
        greedy_ckpt=snakemake.input.greedy,
        full_ckpt=snakemake.input.full,
        out=snakemake.output[0],
        title=f"{snakemake.wildcards.sd_dataset} / {snakemake.wildcards.arch}: first-layer filters",
    )
