# cnnpractice: reproducible workflow for the studies of the talk
# "Using convolutional networks in practice". See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/timeseries.smk"
include: "rules/smalldata.smk"
include: "rules/semantic.smk"
include: "rules/elves.smk"
include: "rules/brain.smk"


rule all:
    default_target: True
    input:
        all_targets(),
