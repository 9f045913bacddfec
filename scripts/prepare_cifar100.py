"""CIFAR-100 as prepared uint8 arrays (train/test, labels, classes) for the semantic study."""

from pathlib import Path

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.prepare_cifar100(
        raw_dir=snakemake.input.raw,
        out_dir=Path(snakemake.output.classes).parent,
        train_per_class=snakemake.params.train_per_class,
        test_per_class=snakemake.params.test_per_class,
        seed=snakemake.params.seed,
    )
