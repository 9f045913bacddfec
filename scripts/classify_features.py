"""Score one feature set of one small dataset with the configured linear classifiers."""

from cnnpractice.smalldata import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.classify_features(
        features=snakemake.input.features,
        out=snakemake.output[0],
        classifiers=list(snakemake.params.classifiers),
        cv_folds=snakemake.params.cv_folds,
        c_grid=list(snakemake.params.c_grid),
        seed=snakemake.params.seed,
        dataset=snakemake.wildcards.sd_dataset,
        feature_set=snakemake.wildcards.feature_set,
        n_jobs=snakemake.threads,
    )
