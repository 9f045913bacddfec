"""Choose the image CNN's image type on the validation parts of the default datasets."""

from cnnpractice.timeseries import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.select_timeseries_image(
        validation=list(snakemake.input.validation),
        candidates=list(snakemake.params.candidates),
        out_json=snakemake.output[0],
    )
