"""Global-average-pooled activations of each conv block of a trained L5 network."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.extract_cnn_features(
        data_dir=str(Path(snakemake.input.classes).parent),
        ckpt=snakemake.input.ckpt,
        out_paths={block: path for block, path in enumerate(snakemake.output, start=1)},
        accelerator=snakemake.params.accelerator,
    )
