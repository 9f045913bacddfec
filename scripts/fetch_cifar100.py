"""Download and unpack CIFAR-100 into resources/semantic/raw/cifar100 (semantic study)."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.fetch_cifar100(
        raw_dir=snakemake.output[0],
        downloads=snakemake.config.get("downloads"),
        downloads_dir=snakemake.params.downloads_dir,
    )
