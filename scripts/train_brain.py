"""Train the brain CNN on every subject-level fold of one slice configuration (one process)."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.train_brain(
        slices_dir=Path(snakemake.input.x).parent,
        out_dirs=[Path(p).parent for p in snakemake.output.result],
        folds=snakemake.params.folds,
        cnn=dict(snakemake.params.cnn),
        training=dict(snakemake.params.training),
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
        seed=snakemake.params.seed,
    )
