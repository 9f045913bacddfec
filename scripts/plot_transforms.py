"""Figure: one series per class and its images under each transform."""

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.plot_transforms(
        train=snakemake.input.train,
        out_png=snakemake.output[0],
        image_size=snakemake.params.image_size,
        transform_params=snakemake.params.transform_params,
        dataset=snakemake.wildcards.dataset,
    )
