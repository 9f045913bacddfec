"""Turn a UCR dataset's series into images (one image type, both splits)."""

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.transform_series(
        train=snakemake.input.train,
        test=snakemake.input.test,
        out_train=snakemake.output.train,
        out_test=snakemake.output.test,
        channels=snakemake.params.channels,
        image_size=snakemake.params.image_size,
        transform_params=snakemake.params.transform_params,
        chunk_size=snakemake.params.chunk_size,
        accelerator=snakemake.params.accelerator,
    )
