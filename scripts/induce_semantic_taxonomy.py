"""Spectral clustering of one layer's class vectors for every k, named by WordNet."""

from cnnpractice.semantic import stages
from cnnpractice.workflow import log_to

with log_to(snakemake.log[0]):
    stages.induce_semantic_taxonomy(
        activations=snakemake.input.activations,
        hierarchy=snakemake.input.hierarchy,
        model=snakemake.wildcards.sem_model,
        layer=snakemake.wildcards.sem_layer,
        k_min=snakemake.params.k_min,
        k_max=snakemake.params.k_max,
        seed=snakemake.params.seed,
        qualifier_share=snakemake.params.qualifier_share,
        assign_labels=snakemake.params.assign_labels,
        n_init=snakemake.params.n_init,
        draws=snakemake.params.draws,
        permutations=snakemake.params.permutations,
        talk_reference=snakemake.input.get("reference"),  # ImageNet models only
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
        out_clusters=snakemake.output.clusters,
        out_scores=snakemake.output.scores,
    )
