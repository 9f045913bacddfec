"""Fine-tune an ImageNet-pretrained torchvision model on one small dataset (the talk's baseline)."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.finetune_smalldata(
        data_dir=str(Path(snakemake.input.classes).parent),
        out_dir=str(Path(snakemake.output.result).parent),
        dataset=snakemake.wildcards.sd_dataset,
        params=dict(snakemake.params.model_params),
        training=dict(snakemake.params.training),
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
        seed=snakemake.params.seed,
    )
