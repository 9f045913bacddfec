"""Write the template grid: MNI152 template, brain mask, atlas labels."""

from pathlib import Path

from cnnpractice.brain.template import prepare_template
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    prepare_template(Path(snakemake.output[0]).parent, **snakemake.params.template)
