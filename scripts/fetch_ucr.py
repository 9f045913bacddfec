"""Materialise one UCR dataset into resources/timeseries/<name>/{train,test}.npz."""

from pathlib import Path

from cnnpractice.data.ucr import materialize_ucr
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    materialize_ucr(
        snakemake.wildcards.dataset,
        Path(snakemake.output.train).parent,
        source=snakemake.params.source,
        extract_path=snakemake.params.extract_path,
        unequal_length=snakemake.params.unequal_length,
        missing=snakemake.params.missing,
    )
