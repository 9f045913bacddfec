"""DeCAF features: fc6/fc7 activations of an ImageNet-pretrained AlexNet."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.extract_decaf_features(
        data_dir=str(Path(snakemake.input.classes).parent),
        out_paths=dict(zip(snakemake.params.layers, snakemake.output)),
        weights=snakemake.params.weights,
        accelerator=snakemake.params.accelerator,
        seed=snakemake.params.seed,
    )
