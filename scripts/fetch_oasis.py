"""Download the OASIS-1 discs and clinical CSV (paper config)."""

from pathlib import Path

from cnnpractice.brain.oasis_fetch import fetch_oasis
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    fetch_oasis(Path(snakemake.output[0]).parent, discs=list(snakemake.params.discs))
