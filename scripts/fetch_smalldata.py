"""Put one small-data dataset's raw files into resources/smalldata/raw/<dataset>."""

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.fetch_smalldata(
        dataset=snakemake.wildcards.sd_dataset,
        raw_dir=snakemake.output[0],
        source=snakemake.params.source,
        downloads=snakemake.config.get("downloads"),
        downloads_dir=snakemake.params.downloads_dir,
    )
