"""Train one arm of the leakage experiment (slice- or subject-level split, shuffled or true labels)."""

from pathlib import Path

from cnnpractice.brain.leakage import train_arm
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    train_arm(
        slices_dir=Path(snakemake.input.x).parent,
        out_dirs=[Path(p).parent for p in snakemake.output.result],
        arm=snakemake.wildcards.br_arm,
        folds=snakemake.params.folds,
        cnn=dict(snakemake.params.cnn),
        training=dict(snakemake.params.training),
        trainer={**snakemake.params.trainer, "progress_bar": snakemake.config["trainer"].get("progress_bar", True)},
        seed=snakemake.params.seed,
    )
