"""Train and test one (dataset, model, image) run of the time-series study."""

from pathlib import Path

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.train_timeseries(
        dataset=snakemake.wildcards.dataset,
        model=snakemake.wildcards.ts_model,
        image=snakemake.wildcards.image,
        train=snakemake.input.train,
        test=snakemake.input.test,
        images_train=snakemake.input.get("images_train"),
        images_test=snakemake.input.get("images_test"),
        out_dir=str(Path(snakemake.output.result).parent),
        model_params=dict(snakemake.params.model_params),
        training=dict(snakemake.params.training),
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
        seed=snakemake.params.seed,
    )
