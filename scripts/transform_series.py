"""Turn a UCR dataset's series into images (every image type, both splits)."""

from pathlib import Path

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.transform_series(
        train=snakemake.input.train,
        test=snakemake.input.test,
        out_dir=Path(snakemake.output[0]).parents[1],
        images=dict(snakemake.params.images),
        image_size=snakemake.params.image_size,
        transform_params=snakemake.params.transform_params,
        chunk_size=snakemake.params.chunk_size,
        accelerator=snakemake.params.accelerator,
    )
