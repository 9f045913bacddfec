"""Detection and reconstruction tables of the elves study."""

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_elves(
        detector_result=snakemake.input.detector,
        locator_result=snakemake.input.locator,
        fit_files=list(snakemake.input.fits),
        test_shards=list(snakemake.input.test),
        settings=dict(snakemake.params.settings),
        distance_bins=list(snakemake.params.distance_bins),
        detection_csv=snakemake.output.detection_csv,
        detection_md=snakemake.output.detection_md,
        reconstruction_csv=snakemake.output.reconstruction_csv,
        reconstruction_md=snakemake.output.reconstruction_md,
        events_csv=snakemake.output.events_csv,
    )
