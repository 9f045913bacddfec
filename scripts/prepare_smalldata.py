"""Decode and resize one small-data dataset once into uint8 arrays (train/test, labels, classes)."""

from pathlib import Path

from cnnpractice.smalldata.datasets import prepare
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    settings = dict(snakemake.params.settings)
    prepare(
        snakemake.wildcards.sd_dataset,
        snakemake.input.raw,
        str(Path(snakemake.output.classes).parent),
        image_size=settings["image_size"],
        channels=settings["channels"],
        train_per_class=settings.get("train_per_class"),
        test_per_class=settings.get("test_per_class"),
        test_fraction=settings.get("test_fraction", 0.2),
        resize=settings.get("resize", "squash"),
        seed=snakemake.params.seed,
        threads=snakemake.threads,
    )
