"""Brain models, differential models, dBMS and ranked regions of one trained model."""

import json
from pathlib import Path

from cnnpractice.brain.interpret_run import interpret_model
from cnnpractice.workflow import log_to, set_threads

with log_to(snakemake.log[0]):
    set_threads(snakemake.threads)
    result = json.loads(Path(snakemake.input.result).read_text())
    interpret_model(
        checkpoint=snakemake.input.ckpt,
        slices_dir=Path(snakemake.input.x).parent,
        template_dir=Path(snakemake.input.template[0]).parent,
        out_dir=Path(snakemake.output[0]).parent,
        mean=result["mean"],
        std=result["std"],
        sagittal_cuts_mm=list(snakemake.params.cuts),
        seed=snakemake.params.seed,
    )
