"""One engineered feature set (HOG, HGD or HCFeats) of both splits of a small dataset."""

from pathlib import Path

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.extract_engineered_features(
        data_dir=str(Path(snakemake.input.classes).parent),
        out=snakemake.output[0],
        name=snakemake.wildcards.engineered,
        params=dict(snakemake.params.params),
    )
