"""The linear SVM on aligned voxels, on the CNN's subject folds."""

from pathlib import Path

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.svm_brain(
        qc_csv=snakemake.input.qc,
        template_dir=Path(snakemake.input.template[0]).parent,
        out_json=snakemake.output[0],
        folds=snakemake.params.folds,
        seed=snakemake.params.seed,
        downsample=snakemake.params.svm["downsample"],
        c_grid=list(snakemake.params.svm["c_grid"]),
    )
