"""Decode and resize one small-data dataset once into uint8 arrays (train/test, labels, classes)."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.prepare_smalldata(
        dataset=snakemake.wildcards.sd_dataset,
        raw_dir=snakemake.input.raw,
        out_dir=Path(snakemake.output.classes).parent,
        settings=dict(snakemake.params.settings),
        seed=snakemake.params.seed,
        threads=snakemake.threads,
    )
