"""Cut one named slice configuration out of every included aligned volume."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.slice_brain(
        qc_csv=snakemake.input.qc,
        template_dir=Path(snakemake.input.template[0]).parent,
        out_dir=Path(snakemake.output.x).parent,
        spec=dict(snakemake.params.spec),
        size=snakemake.params.size,
    )
