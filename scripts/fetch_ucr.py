"""Materialise one UCR dataset into resources/timeseries/<name>/{train,test}.npz."""

from pathlib import Path

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.fetch_ucr(
        dataset=snakemake.wildcards.dataset,
        out_dir=Path(snakemake.output.train).parent,
        source=snakemake.params.source,
        extract_path=snakemake.params.extract_path,
        unequal_length=snakemake.params.unequal_length,
        missing=snakemake.params.missing,
        downloads=snakemake.config.get("downloads"),
        downloads_dir=snakemake.params.downloads_dir,
    )
