"""Detection and reconstruction tables of the elves study."""

from cnnpractice.elves import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_elves(
        detector_result=snakemake.input.detector,
        locator_results={eyes: snakemake.input[f"locator_{eyes}"] for eyes in snakemake.params.eye_sets},
        fit_files={split: list(snakemake.input[f"fits_{split}"]) for split in snakemake.params.test_sets},
        test_shards={split: list(snakemake.input[f"shards_{split}"]) for split in snakemake.params.test_sets},
        settings=dict(snakemake.params.settings),
        distance_bins=list(snakemake.params.distance_bins),
        seed=snakemake.params.seed,
        detection_csv=snakemake.output.detection_csv,
        detection_md=snakemake.output.detection_md,
        reconstruction_csv=snakemake.output.reconstruction_csv,
        reconstruction_md=snakemake.output.reconstruction_md,
        events_csv=snakemake.output.events_csv,
    )
