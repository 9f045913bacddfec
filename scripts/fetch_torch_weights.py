"""Download one pretrained torchvision weights file into the workflow's torch cache."""

from pathlib import Path

from cnnpractice.data import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.fetch_torch_weights(
        url=snakemake.params.url,
        torch_home=Path(snakemake.output[0]).parents[2],  # <TORCH_HOME>/hub/checkpoints/<file>
        downloads=snakemake.config.get("downloads"),
        downloads_dir=snakemake.params.downloads_dir,
    )
