"""Fine-tune an ImageNet-pretrained torchvision model on one small dataset (the talk's baseline)."""

from pathlib import Path

from cnnpractice.smalldata.pipeline import finetune
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    finetune(
        data_dir=str(Path(snakemake.input.classes).parent),
        out_dir=str(Path(snakemake.output.result).parent),
        dataset=snakemake.wildcards.sd_dataset,
        params=dict(snakemake.params.model_params),
        training=dict(snakemake.params.training),
        trainer={**snakemake.params.trainer, "progress_bar": snakemake.config["trainer"].get("progress_bar", True)},
        seed=snakemake.params.seed,
    )
