"""Read the user's ImageNet copy once into resources/semantic/imagenet, checked complete."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.prepare_imagenet(
        root=snakemake.params.root,
        out_dir=snakemake.output[0],
        split=snakemake.params.split,
        expected=snakemake.params.expected,
        downloads=snakemake.config.get("downloads"),
    )
