"""Train and test the transfer runs of one dataset with the settings chosen on the default ones."""

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to, set_threads, trainer_options

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.train_timeseries_transfer(
        dataset=snakemake.wildcards.dataset,
        train=snakemake.input.train,
        test=snakemake.input.test,
        images=list(snakemake.input.images),
        selection=snakemake.input.get("selection"),
        runs=list(snakemake.params.runs),
        models=dict(snakemake.params.models),
        series_length=snakemake.params.series_length,
        trainer=trainer_options(snakemake.params.trainer, snakemake.config),
    )
