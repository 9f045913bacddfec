"""Train the semantic study's own CNN (end to end, five conv blocks) when the small-data
study does not provide one for the dataset."""

from pathlib import Path

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.train_semantic(
        data_dir=Path(snakemake.input.classes).parent,
        out_dir=Path(snakemake.output.result).parent,
        dataset=snakemake.params.dataset,
        model=snakemake.wildcards.sem_model,
        arch_params=dict(snakemake.params.arch_params),
        training=dict(snakemake.params.training),
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
        seed=snakemake.params.seed,
    )
