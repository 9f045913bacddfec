"""Download FSL's Harvard-Oxford atlases into nilearn's layout (resources/nilearn_data/fsl)."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.fetch_brain_atlas(
        data_dir=Path(snakemake.output[0]).parent,
        downloads=snakemake.config.get("downloads"),
        downloads_dir=snakemake.params.downloads_dir,
    )
