"""Download and unpack CIFAR-100 into resources/semantic/raw/cifar100 (semantic study)."""

from cnnpractice.semantic.cifar100 import fetch
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    fetch(snakemake.output[0])
