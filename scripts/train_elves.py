"""Train one of the elves study's CNNs: the detector or the locator (params.task)."""

from pathlib import Path

from cnnpractice.elves.pipeline import train_network
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    train_network(
        task=snakemake.params.task,
        train_shards=list(snakemake.input.train),
        test_shards=list(snakemake.input.test),
        nominal_shards=list(snakemake.input.get("nominal", [])),
        out_dir=str(Path(snakemake.output.result).parent),
        settings=dict(snakemake.params.settings),
        cnn=dict(snakemake.params.cnn),
        training=dict(snakemake.params.training),
        # the progress bar is read from config, not params: toggling it reruns nothing
        trainer={**snakemake.params.trainer, "progress_bar": snakemake.config["trainer"].get("progress_bar", True)},
        seed=snakemake.params.seed,
        **dict(snakemake.params.options),
    )
