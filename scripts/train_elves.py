"""Train one of the elves study's CNNs: the detector or the locator (params.task)."""

from pathlib import Path

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.train_elves(
        task=snakemake.params.task,
        train_shards=list(snakemake.input.train),
        test_shards=list(snakemake.input.test),
        nominal_shards=list(snakemake.input.get("nominal", [])),
        out_dir=str(Path(snakemake.output.result).parent),
        settings=dict(snakemake.params.settings),
        cnn=dict(snakemake.params.cnn),
        training=dict(snakemake.params.training),
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
        seed=snakemake.params.seed,
        **dict(snakemake.params.options),
    )
