"""Map the extracted classes to WordNet synsets and record their hypernym hierarchy."""

from pathlib import Path

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.map_semantic_classes(
        nltk_data=str(Path(snakemake.input.wordnet).parent.parent),
        activations=snakemake.input.activations,
        dataset=snakemake.params.dataset,
        synsets=dict(snakemake.params.synsets),
        out=snakemake.output[0],
    )
