"""leakage.{csv,md}: the four arms of the leakage experiment, the chance row, Yagis et al. beside."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_brain_leakage(
        arm_inputs=dict(snakemake.input.items()),
        slices_dir=Path(snakemake.input.meta).parent,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.md,
        reference=snakemake.input.reference,
    )
