# cnnpractice: reproducible workflow for the studies of the talk
# "Using convolutional networks in practice". See README.md.
import os

from snakemake.utils import min_version

min_version("9.0")


# the workflow's own defaults, also when run in another folder (--directory)
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


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
