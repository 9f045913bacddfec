"""Train the semantic study's own CNN (end to end, five conv blocks) when the small-data
study does not provide one for the dataset."""

from pathlib import Path

from cnnpractice.smalldata.pipeline import train_stage
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    train_stage(
        data_dir=str(Path(snakemake.input.classes).parent),
        out_dir=str(Path(snakemake.output.result).parent),
        dataset=snakemake.params.dataset,
        arch=snakemake.wildcards.sem_model,
        arch_params=dict(snakemake.params.arch_params),
        kind="full",
        stage=5,
        training=dict(snakemake.params.training),
        # the progress bar is read from config, not params: toggling it reruns nothing
        trainer={**snakemake.params.trainer, "progress_bar": snakemake.config["trainer"].get("progress_bar", True)},
        seed=snakemake.params.seed,
    )
