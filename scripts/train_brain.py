"""Train the brain CNN on every subject-level fold of one slice configuration (one process)."""

from pathlib import Path

from cnnpractice.brain.cv_train import train_folds
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    train_folds(
        slices_dir=Path(snakemake.input.x).parent,
        out_dirs=[Path(p).parent for p in snakemake.output.result],
        folds=snakemake.params.folds,
        cnn=dict(snakemake.params.cnn),
        training=dict(snakemake.params.training),
        # the progress bar is read from config, not params: toggling it reruns nothing
        trainer={**snakemake.params.trainer, "progress_bar": snakemake.config["trainer"].get("progress_bar", True)},
        seed=snakemake.params.seed,
    )
