"""Train the brain CNN on one subject-level fold of one slice configuration."""

from pathlib import Path

from cnnpractice.brain.pipeline import train_fold
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    train_fold(
        slices_dir=Path(snakemake.input.x).parent,
        out_dir=Path(snakemake.output.result).parent,
        fold=int(snakemake.wildcards.br_fold),
        folds=snakemake.params.folds,
        cnn=dict(snakemake.params.cnn),
        training=dict(snakemake.params.training),
        # the progress bar is read from config, not params: toggling it reruns nothing
        trainer={**snakemake.params.trainer, "progress_bar": snakemake.config["trainer"].get("progress_bar", True)},
        seed=snakemake.params.seed,
    )
