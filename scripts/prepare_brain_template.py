"""Write the template grid: MNI152 template, brain mask, atlas labels."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.prepare_brain_template(
        out_dir=Path(snakemake.output[0]).parent,
        template=dict(snakemake.params.template),
        atlas_dir=snakemake.params.atlas_dir,
    )
