"""Download the OASIS-1 discs and clinical CSV (paper config)."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.fetch_oasis(
        dest_dir=Path(snakemake.output[0]).parent,
        discs=list(snakemake.params.discs),
        downloads=snakemake.config.get("downloads"),
        downloads_dir=snakemake.params.downloads_dir,
    )
