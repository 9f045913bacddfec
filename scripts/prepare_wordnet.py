"""Lay out WordNet 3.0 as an nltk corpus: the files the Debian packages wordnet-base and
wordnet-sense-index install (/usr/share/wordnet), else nltk.download."""

from cnnpractice.semantic.wordnet import prepare_wordnet
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    prepare_wordnet(snakemake.output[0], source=snakemake.params.source)
