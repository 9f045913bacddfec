"""Put one small-data dataset's raw files into resources/smalldata/raw/<dataset>."""

from cnnpractice.smalldata.datasets import fetch
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    fetch(snakemake.wildcards.sd_dataset, snakemake.output[0], source=snakemake.params.source)
