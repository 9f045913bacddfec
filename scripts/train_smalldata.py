"""Train one stage (greedy Lk, or Full Lk end to end) of the small-data study."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.train_smalldata(
        data_dir=str(Path(snakemake.input.classes).parent),
        out_dir=str(Path(snakemake.output.result).parent),
        dataset=snakemake.wildcards.sd_dataset,
        arch=snakemake.wildcards.arch,
        arch_params=dict(snakemake.params.arch_params),
        kind=snakemake.wildcards.kind,
        stage=int(snakemake.wildcards.stage),
        training=dict(snakemake.params.training),
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
        seed=snakemake.params.seed,
        previous_ckpt=snakemake.input.get("previous"),
        full_epochs=snakemake.params.full_epochs,
    )
