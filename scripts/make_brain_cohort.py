"""Make the cohort: the synthetic one, or OASIS-1 subjects selected by CDR."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

template = getattr(snakemake.input, "template", None)  # synthetic: the template grid
fetch = getattr(snakemake.input, "fetch", None)  # oasis: the downloaded discs
with log_to(snakemake.log[0]):
    stages.make_brain_cohort(
        settings=dict(snakemake.params.settings),
        template_dir=Path(template[0]).parent if template else None,
        out_dir=Path(snakemake.output.subjects).parent,
        raw_dir=Path(fetch).parent if fetch else None,
        seed=snakemake.params.seed,
    )
