"""Brain models, differential models, dBMS and ranked regions of one trained model."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    stages.interpret_brain(
        checkpoint=snakemake.input.ckpt,
        result_json=snakemake.input.result,
        slices_dir=Path(snakemake.input.x).parent,
        template_dir=Path(snakemake.input.template[0]).parent,
        out_dir=Path(snakemake.output[0]).parent,
        sagittal_cuts_mm=list(snakemake.params.cuts),
        seed=snakemake.params.seed,
    )
