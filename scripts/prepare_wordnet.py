"""Lay out WordNet 3.0 as an nltk corpus: the files the Debian packages wordnet-base and
wordnet-sense-index install (/usr/share/wordnet), else nltk's wordnet.zip."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.prepare_wordnet(
        out_dir=snakemake.output[0],
        source=snakemake.params.source,
        downloads=snakemake.config.get("downloads"),
        downloads_dir=snakemake.params.downloads_dir,
    )
