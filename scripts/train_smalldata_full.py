"""Full Lk of one seed under every compute budget: learning rate and stage chosen on validation."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.train_smalldata_full(
        data_dir=str(Path(snakemake.input.classes).parent),
        out_dir=str(Path(snakemake.output.selection).parent),
        dataset=snakemake.wildcards.sd_dataset,
        arch=snakemake.wildcards.arch,
        arch_params=dict(snakemake.params.arch_params),
        training=dict(snakemake.params.training),
        stages=list(snakemake.params.stages),
        budgets=list(snakemake.params.budgets),
        lr_grid=list(snakemake.params.lr_grid),
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
        seed=snakemake.params.seed,
    )
