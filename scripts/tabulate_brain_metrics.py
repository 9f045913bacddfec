"""metrics.{csv,md}: subject-level metrics per slice configuration, SVM, talk beside."""

from cnnpractice.brain import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.tabulate_brain_metrics(
        fold_jsons=list(snakemake.input.folds),
        inputs=dict(snakemake.params.inputs),
        svm_json=snakemake.input.svm[0] if snakemake.input.svm else None,
        csv_path=snakemake.output.csv,
        md_path=snakemake.output.md,
        source=snakemake.params.source,
        reference=snakemake.input.reference,
    )
