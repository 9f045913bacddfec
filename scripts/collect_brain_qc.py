"""Merge the alignment shards' QC rows; apply the exclusion threshold."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.collect_brain_qc(
        shard_qcs=[Path(d) / "qc.csv" for d in snakemake.input],
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
        min_correlation=snakemake.params.min_correlation,
    )
