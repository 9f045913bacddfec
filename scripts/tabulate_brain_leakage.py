"""leakage.{csv,md}: the four arms of the leakage experiment, the chance row, Yagis et al. beside."""

from pathlib import Path

from cnnpractice.brain.leakage import ARMS, tabulate_leakage
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    tabulate_leakage(
        fold_jsons={arm: list(snakemake.input[arm]) for arm in ARMS},
        slices_dir=Path(snakemake.input.meta).parent,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.md,
    )
