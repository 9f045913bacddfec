"""Activations of each conv block of a trained L5 network, pooled to each configured grid."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.extract_cnn_features(
        data_dir=str(Path(snakemake.input.classes).parent),
        ckpt=snakemake.input.ckpt,
        out=snakemake.output[0],
        name=f"{snakemake.wildcards.arch}_{snakemake.wildcards.kind}",
        grids=list(snakemake.params.grids),
        accelerator=snakemake.params.accelerator,
    )
